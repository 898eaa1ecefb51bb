using System.Text.Json;

namespace KvmCluster.Sim.Tests;

/// <summary><c>kvmsim run</c> and <c>kvmsim compare</c> as an operator calls them (the real executable).</summary>
public class RunCliTests
{
    private static string Sample(params string[] parts) => Path.Combine([Kvmsim.RepoRoot(), "samples", .. parts]);
    private static readonly string Day = "planetlab:" + Sample("traces", "planetlab-sample");

    [Fact]
    public void Run_prints_a_json_summary_and_writes_every_output_file()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"kvmsim-out-{Environment.ProcessId}");
        var json = Path.Combine(Path.GetTempPath(), $"kvmsim-summary-{Environment.ProcessId}.json");
        var r = Kvmsim.Exec("run", "--trace", Day, "--datacenter", "cloudsim-planetlab:hosts=50", "--policy", "lr-mmt-1.2",
            "--cloudsim-compat", "--json", json, "--out", dir);
        Assert.Equal(0, r.ExitCode);
        Assert.Empty(r.Err);

        using var stdout = JsonDocument.Parse(r.Out);
        using var file = JsonDocument.Parse(File.ReadAllText(json));
        foreach (var field in new[] { "energyKWh", "migrations", "slatah", "pdm", "slav", "esv", "overallSlaViolation", "hostShutdowns",
                     "hosts", "vms", "simulatedSeconds", "wallSeconds", "policy", "trace" })
        {
            Assert.True(stdout.RootElement.TryGetProperty(field, out _), $"stdout lacks {field}");
            Assert.True(file.RootElement.TryGetProperty(field, out _), $"--json file lacks {field}");
        }
        var s = file.RootElement;
        Assert.Equal(50, s.GetProperty("hosts").GetInt32());
        Assert.Equal(60, s.GetProperty("vms").GetInt32());
        Assert.Equal("lr-mmt-1.2", s.GetProperty("policy").GetString());
        Assert.Equal(86400, s.GetProperty("simulatedSeconds").GetDouble());
        Assert.Equal(s.GetProperty("slatah").GetDouble() * s.GetProperty("pdm").GetDouble(), s.GetProperty("slav").GetDouble(), 15);
        Assert.Equal(s.GetProperty("energyKWh").GetDouble(), stdout.RootElement.GetProperty("energyKWh").GetDouble());

        var csv = File.ReadAllLines(Path.Combine(dir, "timeseries.csv"));
        Assert.Equal("time_s,active_hosts,power_w,overloaded_hosts,migrations,mean_utilization", csv[0]);
        Assert.Equal(287, csv.Length - 1); // one row per decision, 300.1 s … 86,100.1 s
        Assert.Equal(s.GetProperty("migrations").GetInt32(), csv.Skip(1).Sum(l => int.Parse(l.Split(',')[4])));
        foreach (var chart in new[] { "power", "utilization", "migrations" })
        {
            Assert.True(new FileInfo(Path.Combine(dir, chart + ".png")).Length > 1000, $"{chart}.png");
            Assert.Contains("<svg", File.ReadAllText(Path.Combine(dir, chart + ".svg")));
        }
        var html = File.ReadAllText(Path.Combine(dir, "report.html"));
        Assert.Contains("<svg", html);
        Assert.Contains("lr-mmt-1.2", html);
        Assert.DoesNotContain("src=\"", html); // self-contained: nothing to fetch
        Assert.Equal(file.RootElement.GetProperty("energyKWh").GetDouble(),
            JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json"))).RootElement.GetProperty("energyKWh").GetDouble());
    }

    [Fact]
    public void Compare_prints_medians_per_policy_over_several_traces()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"kvmsim-compare-{Environment.ProcessId}");
        var r = Kvmsim.Exec("compare", "--trace", Day, "--trace", "synthetic:vms=60,days=0.5,seed=1",
            "--datacenter", "cloudsim-planetlab:hosts=50", "--policy", "dvfs,lr-mmt-1.2", "--cloudsim-compat", "--out", dir);
        Assert.Equal(0, r.ExitCode);
        var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("medians over 2 trace(s)", lines[0]);
        Assert.StartsWith("policy", lines[1]);
        Assert.StartsWith("dvfs", lines[2]);
        Assert.StartsWith("lr-mmt-1.2", lines[3]);
        Assert.Equal("2", lines[3].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]); // runs
        Assert.True(File.Exists(Path.Combine(dir, "compare.html")));
        Assert.True(File.Exists(Path.Combine(dir, "compare-energy.png")));
        Assert.True(File.Exists(Path.Combine(dir, "planetlab-sample", "lr-mmt-1.2", "report.html")));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "compare.json")));
        Assert.Equal(4, json.RootElement.GetProperty("runs").GetArrayLength());
    }

    [Fact]
    public void A_malformed_trace_line_stops_the_run_with_file_and_line()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"kvmsim-badday-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "vm1"), "10\n20\n");
        File.WriteAllText(Path.Combine(dir, "vm2"), "10\n2O\n");
        var r = Kvmsim.Exec("run", "--trace", "planetlab:" + dir, "--policy", "dvfs");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"{Path.Combine(dir, "vm2")}:2: expected an integer CPU percentage, found '2O'", r.Err);
        Assert.DoesNotContain("   at ", r.Err);
        Assert.Empty(r.Out);
    }

    [Fact]
    public void A_bad_datacenter_file_is_reported_with_its_location()
    {
        var file = Kvmsim.Temp("dc.yaml", "hostTypes:\n  - name: a\n    count: 2\n    pes: 0\n    mhzPerPe: 2000\n    memoryMiB: 1024\n    power: { watts: [100, 90] }\nvmTypes: []\n");
        var r = Kvmsim.Exec("run", "--trace", Day, "--datacenter", file);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"{file}:4:10: hostTypes[0].pes: must be between 1 and 4096, got 0", r.Err);
        Assert.Contains("hostTypes[0].power.watts: power table must not decrease", r.Err);
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Theory]
    [InlineData("run", "--trace", "planetlab:/nonexistent/day")]
    [InlineData("run", "--trace", "bogus:x")]
    [InlineData("run", "--trace", "synthetic:vms=-5")]
    [InlineData("run", "--trace", "synthetic:vms=10", "--policy", "no-such-policy")]
    [InlineData("run", "--trace", "synthetic:vms=10", "--datacenter", "no-such-preset")]
    [InlineData("run", "--trace", "synthetic:vms=10", "--datacenter", "cloudsim-planetlab:hosts=0")]
    [InlineData("run")]
    [InlineData("compare", "--trace", "synthetic:vms=10", "--parallel", "0")]
    public void Usage_errors_exit_2_without_a_stack_trace(params string[] args)
    {
        var r = Kvmsim.Exec(args);
        Assert.Equal(2, r.ExitCode);
        Assert.NotEmpty(r.Err.Trim());
        Assert.DoesNotContain("   at ", r.Err);
    }
}
