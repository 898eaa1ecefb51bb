using KvmCluster.Policies.Documents;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Tests;

public class PolicyDocumentTests
{
    private static IReadOnlyList<DocumentError> Errors(string yaml, string file = "p.yaml") =>
        Assert.Throws<DocumentException>(() => PolicyDocument.Parse(yaml, file)).Errors;

    [Fact]
    public void A_full_policy_is_read()
    {
        var p = PolicyDocument.Parse("""
            name: web-even
            description: spread web tier
            balancer: evenly-distributed
            automation: partial
            seed: 7
            overcommit: { cpu: 8, memory: 1.5 }
            weights: { spread: 2, fewestMigrations: 1 }
            filters:
              - requireHostLabels: { zone: a }
              - maxGuestsPerHost: 40
            migration: { maxConcurrent: 3, allowPostCopy: true, bandwidthMiBps: 256 }
            evenlyDistributed: { threshold: 4, holdMinutes: 5, maxMovesPerRound: 3 }
            """);
        Assert.Equal("web-even", p.Name);
        Assert.Equal(BalancerKind.EvenlyDistributed, p.Kind);
        Assert.Equal(AutomationLevel.Partial, p.Automation);
        Assert.Equal(7, p.Seed);
        Assert.Equal(new Overcommit(8, 1.5), p.Overcommit);
        Assert.Equal(2, p.Weights.Spread);
        Assert.Equal(1, p.Weights.SoftAffinity); // default kept
        Assert.Equal(2, p.Filters.Length);
        Assert.Equal(40, Assert.IsType<MaxGuestsPerHostFilter>(p.Filters[1]).Max);
        Assert.True(p.Migration.AllowPostCopy);
        Assert.Equal(2, p.Migration.MaxOutboundPerHost);
        Assert.Equal(4, p.EvenlyDistributed.Threshold);
    }

    [Fact]
    public void Json_is_accepted_too()
    {
        var p = PolicyDocument.Parse("""{ "name": "lr", "balancer": "adaptive", "adaptive": { "detector": "lr", "parameter": 1.2, "selection": "mmt" } }""", "p.json");
        Assert.Equal(OverloadDetector.Lr, p.Adaptive.Detector);
        Assert.Equal(1.2, p.Adaptive.Parameter);
    }

    [Fact]
    public void Unknown_keys_are_rejected_with_line_column_and_path()
    {
        var errors = Errors("""
            name: x
            weights:
              spread: 1
              sprad: 2
            """);
        var e = Assert.Single(errors);
        Assert.Equal(("p.yaml", 4, 3, "weights.sprad"), (e.File, e.Line, e.Column, e.Path));
        Assert.Contains("unknown key", e.Message);
        Assert.Contains("spread", e.Message);
        Assert.StartsWith("p.yaml:4:3: weights.sprad: unknown key", e.ToString());
    }

    [Fact]
    public void Bad_values_are_rejected_not_clamped_and_all_errors_are_reported()
    {
        var errors = Errors("""
            name: "bad name!"
            balancer: fastest
            overcommit: { cpu: -1 }
            evenlyDistributed: { threshold: 9 }
            migration: { maxConcurrent: lots, downtimeMs: 800, maxDowntimeMs: 500 }
            adaptive: { detector: thr, parameter: 1.5 }
            """);
        Assert.Contains(errors, e => e.Path == "name" && e.Line == 1);
        Assert.Contains(errors, e => e.Path == "balancer" && e.Message.Contains("'fastest' is not one of: none, evenly-distributed, power-saving, adaptive"));
        Assert.Contains(errors, e => e.Path == "overcommit.cpu" && e.Message.Contains("must be between 0.01 and 64, got -1"));
        Assert.Contains(errors, e => e.Path == "evenlyDistributed.threshold" && e.Message.Contains("between 1 and 5, got 9") && e.Line == 4);
        Assert.Contains(errors, e => e.Path == "migration.maxConcurrent" && e.Message.Contains("expected an integer, found 'lots'"));
        Assert.Contains(errors, e => e.Path == "migration.maxDowntimeMs");
        Assert.Contains(errors, e => e.Path == "adaptive.parameter" && e.Message.Contains("between 0.01 and 1"));
    }

    [Fact]
    public void Syntax_errors_and_wrong_shapes_are_located()
    {
        var e = Assert.Single(Errors("name: x\nweights: [1, 2\n"));
        Assert.Contains("syntax error", e.Message);
        Assert.True(e.Line >= 2);
        Assert.Contains(Errors("- a\n- b\n"), x => x.Message.Contains("expected a mapping"));
        Assert.Contains(Errors("weights: { spread: 1 }\n"), x => x.Path == "name" && x.Message == "is required");
        Assert.Contains(Errors(""), x => x.Message.Contains("empty"));
    }

    [Fact]
    public void Filters_take_exactly_one_known_key()
    {
        var errors = Errors("""
            name: x
            filters:
              - maxGuestsPerHost: 5
                excludeHosts: [a]
              - noSuchFilter: 1
            """);
        Assert.Contains(errors, e => e.Path == "filters[0]" && e.Message.Contains("exactly one key"));
        Assert.Contains(errors, e => e.Path == "filters[1].noSuchFilter" && e.Line == 5);
    }

    [Fact]
    public void Normalised_output_lists_every_field_and_reads_back_identically()
    {
        var p = PolicyDocument.Parse("name: ps\nbalancer: power-saving\npowerSaving: { hostsInReserve: 2 }\nfilters: [ { excludeHosts: [hv-09] } ]\n");
        var yaml = PolicyWriter.ToYaml(p);
        Assert.Contains("hostsInReserve: 2", yaml);
        Assert.Contains("targetUtilizationPercent: 63", yaml);
        Assert.Contains("maxOutboundPerHost: 2", yaml);
        var again = PolicyDocument.Parse(yaml);
        Assert.Equal(PolicyWriter.ToYaml(again), yaml);
        Assert.Equal(p with { Filters = [] }, again with { Filters = [] });
        Assert.Equal(p.Filters.Length, again.Filters.Length);
    }

    [Theory]
    [InlineData("thr-mmt-0.8", OverloadDetector.Thr, VmSelection.Mmt, 0.8)]
    [InlineData("iqr-mmt-1.5", OverloadDetector.Iqr, VmSelection.Mmt, 1.5)]
    [InlineData("mad-mmt-2.5", OverloadDetector.Mad, VmSelection.Mmt, 2.5)]
    [InlineData("lrr-mc-1.2", OverloadDetector.Lrr, VmSelection.Mc, 1.2)]
    [InlineData("lr-rs-1.2", OverloadDetector.Lr, VmSelection.Rs, 1.2)]
    public void Built_in_adaptive_names_resolve(string name, OverloadDetector d, VmSelection s, double p)
    {
        Assert.True(BuiltInPolicies.TryGet(name, out var policy));
        Assert.Equal(BalancerKind.Adaptive, policy.Kind);
        Assert.Equal((d, s, p), (policy.Adaptive.Detector, policy.Adaptive.Selection, policy.Adaptive.Parameter));
    }

    [Theory]
    [InlineData("thr-mmt-1.5")]
    [InlineData("xyz-mmt-1")]
    [InlineData("LR-MMT-1.2")]
    [InlineData("lr-mmt")]
    public void Unknown_or_out_of_range_names_do_not_resolve(string name) => Assert.False(BuiltInPolicies.TryGet(name, out _));

    [Fact]
    public void Shipped_example_policies_are_valid()
    {
        var dir = Path.Combine(RepoRoot.Find(), "policies");
        var files = Directory.GetFiles(dir, "*.yaml").Concat(Directory.GetFiles(dir, "*.json")).ToList();
        Assert.True(files.Count >= 4, $"expected example policies in {dir}");
        foreach (var f in files) PolicyDocument.Parse(File.ReadAllText(f), f);
    }
}

internal static class RepoRoot
{
    public static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "KvmCluster.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("KvmCluster.sln not found above " + AppContext.BaseDirectory);
    }
}
