using System.Globalization;
using KvmCluster.Policies.Rules;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KvmCluster.Policies.Documents;

/// <summary>Writes a policy back as a complete YAML document: every field, defaults filled in.</summary>
public static class PolicyWriter
{
    public static string ToYaml(Rules.Policy p)
    {
        var doc = new Dictionary<string, object?>
        {
            ["name"] = p.Name,
            ["description"] = p.Description,
            ["balancer"] = PolicyDocument.BalancerNames[(int)p.Kind],
            ["automation"] = PolicyDocument.AutomationNames[(int)p.Automation],
            ["seed"] = p.Seed,
            ["overcommit"] = new Dictionary<string, object> { ["cpu"] = p.Overcommit.Cpu, ["memory"] = p.Overcommit.Memory },
            ["weights"] = new Dictionary<string, object>
            {
                ["spread"] = p.Weights.Spread,
                ["pack"] = p.Weights.Pack,
                ["power"] = p.Weights.Power,
                ["softAffinity"] = p.Weights.SoftAffinity,
                ["fewestMigrations"] = p.Weights.FewestMigrations,
            },
            ["filters"] = p.Filters.Select(Filter).ToList(),
            ["migration"] = new Dictionary<string, object>
            {
                ["allowBlockMigration"] = p.Migration.AllowBlockMigration,
                ["maxOutboundPerHost"] = p.Migration.MaxOutboundPerHost,
                ["maxInboundPerHost"] = p.Migration.MaxInboundPerHost,
                ["maxConcurrent"] = p.Migration.MaxConcurrent,
                ["bandwidthMiBps"] = p.Migration.BandwidthMiBps,
                ["downtimeMs"] = p.Migration.DowntimeMs,
                ["maxDowntimeMs"] = p.Migration.MaxDowntimeMs,
                ["allowAutoConverge"] = p.Migration.AllowAutoConverge,
                ["allowPostCopy"] = p.Migration.AllowPostCopy,
                ["completionTimeoutPerGiB"] = p.Migration.CompletionTimeoutPerGiB,
            },
            ["evenlyDistributed"] = new Dictionary<string, object>
            {
                ["threshold"] = p.EvenlyDistributed.Threshold,
                ["holdMinutes"] = p.EvenlyDistributed.HoldMinutes,
                ["highUtilizationPercent"] = p.EvenlyDistributed.HighUtilizationPercent,
                ["minImprovement"] = p.EvenlyDistributed.MinImprovement,
                ["maxMovesPerRound"] = p.EvenlyDistributed.MaxMovesPerRound,
                ["cpuWeight"] = p.EvenlyDistributed.CpuWeight,
                ["memoryWeight"] = p.EvenlyDistributed.MemoryWeight,
            },
            ["powerSaving"] = new Dictionary<string, object>
            {
                ["targetUtilizationPercent"] = p.PowerSaving.TargetUtilizationPercent,
                ["tolerancePercent"] = p.PowerSaving.TolerancePercent,
                ["hostsInReserve"] = p.PowerSaving.HostsInReserve,
                ["powerOnWindowMinutes"] = p.PowerSaving.PowerOnWindowMinutes,
                ["powerOffWindowMinutes"] = p.PowerSaving.PowerOffWindowMinutes,
                ["maxPowerActionsPerRound"] = p.PowerSaving.MaxPowerActionsPerRound,
                ["maxMovesPerRound"] = p.PowerSaving.MaxMovesPerRound,
            },
            ["adaptive"] = new Dictionary<string, object>
            {
                ["detector"] = PolicyDocument.DetectorNames[(int)p.Adaptive.Detector],
                ["parameter"] = p.Adaptive.Parameter,
                ["selection"] = PolicyDocument.SelectionNames[(int)p.Adaptive.Selection],
                ["fallbackThreshold"] = p.Adaptive.FallbackThreshold,
                ["consolidateUnderloaded"] = p.Adaptive.ConsolidateUnderloaded,
                ["maxConsolidationsPerRound"] = p.Adaptive.MaxConsolidationsPerRound,
            },
            ["power"] = new Dictionary<string, object>
            {
                ["bootTimeoutMinutes"] = p.Power.BootTimeoutMinutes,
                ["powerOffTimeoutMinutes"] = p.Power.PowerOffTimeoutMinutes,
            },
        };
        if (p.Description is null) doc.Remove("description");
        // Built as a YAML node tree and saved: no reflection, so it also works in the NativeAOT build.
        var stream = new YamlStream(new YamlDocument(Node(doc)));
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        stream.Save(writer, assignAnchors: false);
        var text = writer.ToString();
        // YamlStream ends a document with "...", which a policy file does not need.
        if (text.EndsWith("...\n", StringComparison.Ordinal)) text = text[..^4];
        return text;
    }

    private static YamlNode Node(object? value) => value switch
    {
        null => new YamlScalarNode("null") { Style = ScalarStyle.Plain },
        IDictionary<string, object?> map => new YamlMappingNode(map.Select(kv => new KeyValuePair<YamlNode, YamlNode>(new YamlScalarNode(kv.Key), Node(kv.Value)))),
        IDictionary<string, string> map => new YamlMappingNode(map.Select(kv => new KeyValuePair<YamlNode, YamlNode>(new YamlScalarNode(kv.Key), Node(kv.Value)))),
        System.Collections.IEnumerable list and not string => new YamlSequenceNode(list.Cast<object?>().Select(Node)),
        bool b => new YamlScalarNode(b ? "true" : "false") { Style = ScalarStyle.Plain },
        double d => new YamlScalarNode(Num(d)) { Style = ScalarStyle.Plain },
        IFormattable f => new YamlScalarNode(f.ToString(null, CultureInfo.InvariantCulture)) { Style = ScalarStyle.Plain },
        _ => new YamlScalarNode(value.ToString()!),
    };

    private static Dictionary<string, object> Filter(ExtraFilter f) => f switch
    {
        RequireHostLabelsFilter r => new() { ["requireHostLabels"] = r.Labels.ToDictionary(kv => kv.Key, kv => kv.Value) },
        ExcludeHostsFilter e => new() { ["excludeHosts"] = e.Hosts.ToList() },
        MaxGuestsPerHostFilter g => new() { ["maxGuestsPerHost"] = g.Max },
        MaxHostCpuFilter c => new() { ["maxHostCpuPercent"] = c.Percent },
        _ => throw new NotSupportedException(f.GetType().Name),
    };

    internal static string Num(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
