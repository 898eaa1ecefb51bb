using System.Collections.Immutable;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Documents;

/// <summary>
/// Reads policy documents (YAML or JSON). Unknown keys and out-of-range values are errors with
/// file:line:column and the field path; nothing is silently clamped or ignored.
/// </summary>
public static class PolicyDocument
{
    public static readonly IReadOnlyList<string> BalancerNames = ["none", "evenly-distributed", "power-saving", "adaptive"];
    public static readonly IReadOnlyList<string> AutomationNames = ["manual", "partial", "full"];
    public static readonly IReadOnlyList<string> DetectorNames = ["thr", "iqr", "mad", "lr", "lrr"];
    public static readonly IReadOnlyList<string> SelectionNames = ["mmt", "mc", "rs", "mu"];

    /// <summary>Parses a policy; throws <see cref="DocumentException"/> listing every problem.</summary>
    public static Rules.Policy Parse(string text, string file = "<policy>")
    {
        var doc = new DocumentContext(file);
        var root = MapReader.Of(doc, doc.Load(text), "");
        var policy = root is null ? null : Read(root);
        doc.ThrowIfErrors();
        return policy!;
    }

    private static Rules.Policy? Read(MapReader m)
    {
        var name = m.String("name", required: true);
        if (name is not null && GuestName.Problem(name) is not null)
            m.Error("name", $"'{name}' must match {GuestName.Pattern}");
        var defaults = new Rules.Policy { Name = "x" };
        var kind = m.Choice("balancer", BalancerNames);
        var automation = m.Choice("automation", AutomationNames);
        var policy = new Rules.Policy
        {
            Name = name ?? "invalid",
            Description = m.String("description"),
            Kind = kind is { } k ? (BalancerKind)k : defaults.Kind,
            Automation = automation is { } a ? (AutomationLevel)a : defaults.Automation,
            Seed = m.Long("seed", 0) ?? defaults.Seed,
            Overcommit = ReadOvercommit(m.Map("overcommit")),
            Weights = ReadWeights(m.Map("weights")),
            Filters = ReadFilters(m),
            Migration = ReadMigration(m.Map("migration")),
            EvenlyDistributed = ReadEven(m.Map("evenlyDistributed")),
            PowerSaving = ReadPowerSaving(m.Map("powerSaving")),
            Adaptive = ReadAdaptive(m.Map("adaptive")),
            Power = ReadPower(m.Map("power")),
        };
        m.RejectUnknown();
        return policy;
    }

    private static Overcommit ReadOvercommit(MapReader? m)
    {
        var d = new Overcommit();
        if (m is null) return d;
        var o = new Overcommit(m.Double("cpu", 0.01, 64) ?? d.Cpu, m.Double("memory", 0.01, 4) ?? d.Memory);
        m.RejectUnknown();
        return o;
    }

    private static ScoreWeights ReadWeights(MapReader? m)
    {
        var d = new ScoreWeights();
        if (m is null) return d;
        var w = new ScoreWeights(
            m.Double("spread", 0, 1000) ?? d.Spread,
            m.Double("pack", 0, 1000) ?? d.Pack,
            m.Double("power", 0, 1000) ?? d.Power,
            m.Double("softAffinity", 0, 1000) ?? d.SoftAffinity,
            m.Double("fewestMigrations", 0, 1000) ?? d.FewestMigrations);
        if (w.Sum <= 0) m.Doc.Error(m.Node, m.Path, "at least one weight must be positive");
        m.RejectUnknown();
        return w;
    }

    private static ImmutableArray<ExtraFilter> ReadFilters(MapReader root)
    {
        var list = ImmutableArray.CreateBuilder<ExtraFilter>();
        foreach (var m in root.Maps("filters"))
        {
            var keys = m.Keys.ToList();
            if (keys.Count != 1)
            {
                m.Doc.Error(m.Node, m.Path, "each filter is a mapping with exactly one key: requireHostLabels, excludeHosts, maxGuestsPerHost or maxHostCpuPercent");
                continue;
            }
            ExtraFilter? f = keys[0] switch
            {
                "requireHostLabels" => m.StringMap("requireHostLabels") is { Count: > 0 } labels
                    ? new RequireHostLabelsFilter(labels.ToImmutableSortedDictionary(StringComparer.Ordinal))
                    : Fail(m, "requireHostLabels", "needs at least one label"),
                "excludeHosts" => m.Strings("excludeHosts") is { Count: > 0 } hosts
                    ? new ExcludeHostsFilter(hosts.ToImmutableSortedSet(StringComparer.Ordinal))
                    : Fail(m, "excludeHosts", "needs at least one host"),
                "maxGuestsPerHost" => m.Int("maxGuestsPerHost", 1, 100_000) is { } n ? new MaxGuestsPerHostFilter(n) : null,
                "maxHostCpuPercent" => m.Double("maxHostCpuPercent", 1, 100) is { } p ? new MaxHostCpuFilter(p) : null,
                _ => null,
            };
            m.RejectUnknown();
            if (f is not null) list.Add(f);
        }
        return list.ToImmutable();
    }

    private static ExtraFilter? Fail(MapReader m, string key, string message)
    {
        m.Error(key, message);
        return null;
    }

    private static MigrationSettings ReadMigration(MapReader? m)
    {
        var d = new MigrationSettings();
        if (m is null) return d;
        var s = new MigrationSettings
        {
            AllowBlockMigration = m.Bool("allowBlockMigration") ?? d.AllowBlockMigration,
            MaxOutboundPerHost = m.Int("maxOutboundPerHost", 1, 64) ?? d.MaxOutboundPerHost,
            MaxInboundPerHost = m.Int("maxInboundPerHost", 1, 64) ?? d.MaxInboundPerHost,
            MaxConcurrent = m.Int("maxConcurrent", 1, 10_000) ?? d.MaxConcurrent,
            BandwidthMiBps = m.Double("bandwidthMiBps", 0, 1_000_000) ?? d.BandwidthMiBps,
            DowntimeMs = m.Int("downtimeMs", 1, 60_000) ?? d.DowntimeMs,
            MaxDowntimeMs = m.Int("maxDowntimeMs", 1, 60_000) ?? d.MaxDowntimeMs,
            AllowAutoConverge = m.Bool("allowAutoConverge") ?? d.AllowAutoConverge,
            AllowPostCopy = m.Bool("allowPostCopy") ?? d.AllowPostCopy,
            CompletionTimeoutPerGiB = m.Int("completionTimeoutPerGiB", 1, 86_400) ?? d.CompletionTimeoutPerGiB,
        };
        if (s.MaxDowntimeMs < s.DowntimeMs)
            m.Error("maxDowntimeMs", $"must be ≥ downtimeMs ({s.DowntimeMs}), got {s.MaxDowntimeMs}");
        m.RejectUnknown();
        return s;
    }

    private static EvenlyDistributedSettings ReadEven(MapReader? m)
    {
        var d = new EvenlyDistributedSettings();
        if (m is null) return d;
        var s = new EvenlyDistributedSettings
        {
            Threshold = m.Int("threshold", 1, 5) ?? d.Threshold,
            HoldMinutes = m.Double("holdMinutes", 0, 1440) ?? d.HoldMinutes,
            HighUtilizationPercent = m.Double("highUtilizationPercent", 50, 99) ?? d.HighUtilizationPercent,
            MinImprovement = m.Double("minImprovement", 0, 1) ?? d.MinImprovement,
            MaxMovesPerRound = m.Int("maxMovesPerRound", 1, 1000) ?? d.MaxMovesPerRound,
            CpuWeight = m.Double("cpuWeight", 0, 100) ?? d.CpuWeight,
            MemoryWeight = m.Double("memoryWeight", 0, 100) ?? d.MemoryWeight,
        };
        if (s.CpuWeight + s.MemoryWeight <= 0) m.Doc.Error(m.Node, m.Path, "cpuWeight and memoryWeight cannot both be 0");
        m.RejectUnknown();
        return s;
    }

    private static PowerSavingSettings ReadPowerSaving(MapReader? m)
    {
        var d = new PowerSavingSettings();
        if (m is null) return d;
        var s = new PowerSavingSettings
        {
            TargetUtilizationPercent = m.Double("targetUtilizationPercent", 10, 95) ?? d.TargetUtilizationPercent,
            TolerancePercent = m.Double("tolerancePercent", 1, 50) ?? d.TolerancePercent,
            HostsInReserve = m.Int("hostsInReserve", 0, 10_000) ?? d.HostsInReserve,
            PowerOnWindowMinutes = m.Double("powerOnWindowMinutes", 0, 1440) ?? d.PowerOnWindowMinutes,
            PowerOffWindowMinutes = m.Double("powerOffWindowMinutes", 0, 1440) ?? d.PowerOffWindowMinutes,
            MaxPowerActionsPerRound = m.Int("maxPowerActionsPerRound", 1, 1000) ?? d.MaxPowerActionsPerRound,
            MaxMovesPerRound = m.Int("maxMovesPerRound", 1, 100_000) ?? d.MaxMovesPerRound,
        };
        if (s.TargetUtilizationPercent + s.TolerancePercent > 100 || s.TargetUtilizationPercent - s.TolerancePercent < 0)
            m.Error("tolerancePercent", $"target {s.TargetUtilizationPercent}% ± {s.TolerancePercent}% must stay within 0–100%");
        m.RejectUnknown();
        return s;
    }

    private static PowerActionSettings ReadPower(MapReader? m)
    {
        var d = new PowerActionSettings();
        if (m is null) return d;
        var s = new PowerActionSettings
        {
            BootTimeoutMinutes = m.Double("bootTimeoutMinutes", 0.01, 1440) ?? d.BootTimeoutMinutes,
            PowerOffTimeoutMinutes = m.Double("powerOffTimeoutMinutes", 0.01, 1440) ?? d.PowerOffTimeoutMinutes,
        };
        m.RejectUnknown();
        return s;
    }

    private static AdaptiveSettings ReadAdaptive(MapReader? m)
    {
        var d = new AdaptiveSettings();
        if (m is null) return d;
        var detector = m.Choice("detector", DetectorNames) is { } di ? (OverloadDetector)di : d.Detector;
        var (lo, hi) = ParameterRange(detector);
        var s = new AdaptiveSettings
        {
            Detector = detector,
            Parameter = m.Double("parameter", lo, hi) ?? DefaultParameter(detector),
            Selection = m.Choice("selection", SelectionNames) is { } si ? (VmSelection)si : d.Selection,
            FallbackThreshold = m.Double("fallbackThreshold", 0.01, 1) ?? d.FallbackThreshold,
            ConsolidateUnderloaded = m.Bool("consolidateUnderloaded") ?? d.ConsolidateUnderloaded,
            MaxConsolidationsPerRound = m.Int("maxConsolidationsPerRound", 0, 1_000_000) ?? d.MaxConsolidationsPerRound,
        };
        m.RejectUnknown();
        return s;
    }

    /// <summary>Meaningful parameter values per detector: a utilisation for THR, a safety factor otherwise.</summary>
    public static (double Min, double Max) ParameterRange(OverloadDetector d) => d switch
    {
        OverloadDetector.Thr => (0.01, 1),
        OverloadDetector.Iqr or OverloadDetector.Mad => (0, 10),
        _ => (0.01, 10),
    };

    public static double DefaultParameter(OverloadDetector d) => d switch
    {
        OverloadDetector.Thr => 0.8,
        OverloadDetector.Iqr => 1.5,
        OverloadDetector.Mad => 2.5,
        _ => 1.2,
    };
}
