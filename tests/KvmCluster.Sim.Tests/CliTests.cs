using System.Text.Json;

namespace KvmCluster.Sim.Tests;

public class CliTests
{
    [Fact]
    public void Policy_check_prints_the_normalised_policy()
    {
        var r = Kvmsim.Exec("policy", "check", Path.Combine(Kvmsim.RepoRoot(), "policies", "balanced.yaml"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("name: balanced", r.Out);
        Assert.Contains("maxPowerActionsPerRound: 1", r.Out); // defaults of unused sections are filled in
        Assert.Empty(r.Err);
    }

    [Fact]
    public void Policy_check_reports_file_line_column_and_field_then_exits_2()
    {
        var file = Kvmsim.Temp("bad.yaml", "name: bad\nweights:\n  spread: 1\n  sprad: 2\nmigration: { maxConcurrent: -3 }\n");
        var r = Kvmsim.Exec("policy", "check", file);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"{file}:4:3: weights.sprad: unknown key", r.Err);
        Assert.Contains($"{file}:5:29: migration.maxConcurrent: must be between 1 and 10000, got -3", r.Err);
        Assert.DoesNotContain("   at ", r.Err); // no stack trace for a user mistake
        Assert.Empty(r.Out);
    }

    [Theory]
    [InlineData("policy", "check", "/nonexistent/p.yaml")]
    [InlineData("place", "--policy", "no-such-policy")]
    [InlineData("place", "--fleet", "/nonexistent/f.yaml")]
    [InlineData("bench", "place", "--hosts", "0")]
    [InlineData("frobnicate")]
    [InlineData("bench", "place", "--hosts", "many")]
    public void Usage_errors_exit_2_with_a_message_and_no_stack_trace(params string[] args)
    {
        var r = Kvmsim.Exec(args);
        Assert.Equal(2, r.ExitCode);
        Assert.NotEmpty(r.Err.Trim());
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Fact]
    public void Place_on_the_built_in_sample_explains_its_decisions()
    {
        var r = Kvmsim.Exec("place", "--explain");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("5 of 6 guest(s) placed", r.Out);
        Assert.Contains("epyc-only", r.Out);
        Assert.Contains("host hv-06 is standby", r.Out);
        Assert.Contains("CPU model EPYC-Rome is not usable on host hv-01", r.Out);
        Assert.Contains("has no assignable device 10de:1db6", r.Out);
    }

    [Fact]
    public void Place_reports_bad_fleet_documents_with_their_location()
    {
        var fleet = Kvmsim.Temp("fleet.yaml", "hosts:\n  - name: hv-01\n    memoryMiB: lots\n");
        var r = Kvmsim.Exec("place", "--fleet", fleet);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"{fleet}:3:16: hosts[0].memoryMiB: expected an integer, found 'lots'", r.Err);
        Assert.Contains($"{fleet}:2:5: hosts[0].cpu: is required", r.Err);
    }

    [Fact]
    public void Bench_place_writes_the_json_fields()
    {
        var json = Path.Combine(Path.GetTempPath(), $"bench-{Environment.ProcessId}.json");
        var r = Kvmsim.Exec("bench", "place", "--hosts", "300", "--guests", "2000", "--seed", "3", "--json", json);
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.True(root.GetProperty("placementsPerSecond").GetDouble() > 0);
        Assert.Equal(300, root.GetProperty("hosts").GetInt32());
        Assert.Equal(2000, root.GetProperty("guests").GetInt32());
        Assert.True(root.GetProperty("rejected").GetInt32() >= 0);
        Assert.True(root.GetProperty("hostClasses").GetInt32() >= 20, "the synthetic fleet must have at least 20 host classes");
    }
}

public class PlanCliTests
{
    [Fact]
    public void Plan_prints_waves_with_reasons_for_a_scenario_fleet()
    {
        var dir = Path.Combine(Kvmsim.RepoRoot(), "tests", "scenarios", "maintenance-evacuation");
        var r = Kvmsim.Exec("plan", "--fleet", Path.Combine(dir, "fleet.yaml"), "--policy", "default");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("wave 1:", r.Out);
        Assert.Contains("migrate db hv-02 → hv-03", r.Out);
        Assert.Contains("because host hv-02 is in maintenance", r.Out);
        Assert.Contains("refused: gpu", r.Out);
        Assert.Equal(r.Out, Kvmsim.Exec("plan", "--fleet", Path.Combine(dir, "fleet.yaml"), "--policy", "default").Out);
    }

    [Fact]
    public void Bench_plan_writes_the_json_fields()
    {
        var json = Path.Combine(Path.GetTempPath(), $"bench-plan-{Environment.ProcessId}.json");
        var r = Kvmsim.Exec("bench", "plan", "--hosts", "200", "--guests", "3000", "--policy", "lr-mmt-1.2", "--rounds", "2", "--json", json);
        Assert.Equal(0, r.ExitCode);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
        Assert.True(doc.RootElement.GetProperty("planMillisMedian").GetDouble() > 0);
        Assert.True(doc.RootElement.GetProperty("moves").GetInt32() >= 0);
        Assert.True(doc.RootElement.GetProperty("powerActions").GetInt32() >= 0);
        Assert.Equal(2, doc.RootElement.GetProperty("rounds").GetInt32());
    }
}
