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

    /// <summary>
    /// Every option a policy document may hold, in the reader's order, with what it takes, its default (what a
    /// document that leaves it out gets) and what it means: the reader is the schema, asked by reading a document that
    /// holds every option once. The writer is checked against it by a test; docs/policy-reference.md is made from it.
    /// </summary>
    public static IReadOnlyList<(DocumentOption Option, string? Default)> Options()
    {
        var every = new Rules.Policy
        {
            Name = "reference",
            Description = "every option once",
            Filters =
            [
                new RequireHostLabelsFilter(ImmutableSortedDictionary<string, string>.Empty.Add("zone", "a")),
                new ExcludeHostsFilter(ImmutableSortedSet.Create(StringComparer.Ordinal, "hv-00")),
                new MaxGuestsPerHostFilter(1),
                new MaxHostCpuFilter(50),
            ],
        };
        var doc = new DocumentContext("<reference>") { Options = new Dictionary<string, DocumentOption>(StringComparer.Ordinal) };
        if (MapReader.Of(doc, doc.Load(PolicyWriter.ToYaml(every)), "") is { } root) Read(root);
        doc.ThrowIfErrors();
        var maps = doc.Options.Values.Where(o => o.Kind == "string → string").Select(o => o.Path + ".").ToList();
        var defaults = Flatten(PolicyWriter.ToYaml(Parse("name: defaults\n")));
        return [.. doc.Options.Values
            .Where(o => !maps.Any(o.Path.StartsWith)) // the labels inside a label map are not options
            .Select(o => (o, defaults.GetValueOrDefault(o.Path)))];
    }

    /// <summary>The scalar values of a YAML document by dotted path (an empty list as []).</summary>
    internal static Dictionary<string, string> Flatten(string yaml)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var stream = new YamlDotNet.RepresentationModel.YamlStream();
        stream.Load(new StringReader(yaml));
        void Walk(YamlDotNet.RepresentationModel.YamlNode node, string path)
        {
            if (node is YamlDotNet.RepresentationModel.YamlMappingNode map)
                foreach (var (k, v) in map.Children) Walk(v, path.Length == 0 ? ((YamlDotNet.RepresentationModel.YamlScalarNode)k).Value! : $"{path}.{((YamlDotNet.RepresentationModel.YamlScalarNode)k).Value}");
            else if (node is YamlDotNet.RepresentationModel.YamlScalarNode { Value: { } value }) result[path] = value;
            else if (node is YamlDotNet.RepresentationModel.YamlSequenceNode { Children.Count: 0 }) result[path] = "[]";
        }
        Walk(stream.Documents[0].RootNode, "");
        return result;
    }

    private static Rules.Policy? Read(MapReader m)
    {
        var name = m.String("name", required: true, about: "the policy's name, as `kvmcluster policy activate NAME` uses it");
        if (name is not null && GuestName.Problem(name) is not null)
            m.Error("name", $"'{name}' must match {GuestName.Pattern}");
        var defaults = new Rules.Policy { Name = "x" };
        var kind = m.Choice("balancer", BalancerNames, about: "what a planning round does: nothing, spread load, consolidate and power hosts down, or the CloudSim adaptive family");
        var automation = m.Choice("automation", AutomationNames, about: "who approves plans: an operator (manual, partial) or nobody (full: the planning timer executes them)");
        var policy = new Rules.Policy
        {
            Name = name ?? "invalid",
            Description = m.String("description", about: "free text shown with the policy"),
            Kind = kind is { } k ? (BalancerKind)k : defaults.Kind,
            Automation = automation is { } a ? (AutomationLevel)a : defaults.Automation,
            Seed = m.Long("seed", 0, about: "seed of every random choice the policy makes: the same inputs and seed give the same plan") ?? defaults.Seed,
            Overcommit = ReadOvercommit(m.Map("overcommit", about: "how much more than the hardware guests may be given")),
            Weights = ReadWeights(m.Map("weights", about: "how much each scorer counts when choosing among feasible hosts (each is normalised to 0…1)")),
            Filters = ReadFilters(m),
            Migration = ReadMigration(m.Map("migration", about: "how migrations run, and how many at once")),
            EvenlyDistributed = ReadEven(m.Map("evenlyDistributed", about: "settings of the evenly-distributed balancer (oVirt's evenly_distributed, DRS-like thresholds)")),
            PowerSaving = ReadPowerSaving(m.Map("powerSaving", about: "settings of the power-saving balancer (VMware DPM-like)")),
            Adaptive = ReadAdaptive(m.Map("adaptive", about: "settings of the CloudSim adaptive family (Beloglazov & Buyya): overload detector and VM selection")),
            Power = ReadPower(m.Map("power", about: "how long power actions may take before the plan fails")),
        };
        m.RejectUnknown();
        return policy;
    }

    private static Overcommit ReadOvercommit(MapReader? m)
    {
        var d = new Overcommit();
        if (m is null) return d;
        var o = new Overcommit(m.Double("cpu", 0.01, 64, about: "vCPUs per hardware thread") ?? d.Cpu, m.Double("memory", 0.01, 4, about: "guest MiB per host MiB (hugepage pools are never over-committed)") ?? d.Memory);
        m.RejectUnknown();
        return o;
    }

    private static ScoreWeights ReadWeights(MapReader? m)
    {
        var d = new ScoreWeights();
        if (m is null) return d;
        var w = new ScoreWeights(
            m.Double("spread", 0, 1000, about: "prefer the least loaded host") ?? d.Spread,
            m.Double("pack", 0, 1000, about: "prefer the most loaded host that still fits (consolidation)") ?? d.Pack,
            m.Double("power", 0, 1000, about: "prefer the host whose power draw grows least") ?? d.Power,
            m.Double("softAffinity", 0, 1000, about: "prefer hosts that honour soft affinity rules") ?? d.SoftAffinity,
            m.Double("fewestMigrations", 0, 1000, about: "prefer leaving a guest where it is") ?? d.FewestMigrations);
        if (w.Sum <= 0) m.Doc.Error(m.Node, m.Path, "at least one weight must be positive");
        m.RejectUnknown();
        return w;
    }

    private static ImmutableArray<ExtraFilter> ReadFilters(MapReader root)
    {
        var list = ImmutableArray.CreateBuilder<ExtraFilter>();
        foreach (var m in root.Maps("filters", about: "extra filters, each a mapping with one key; they add to the mandatory constraints, never remove one"))
        {
            var keys = m.Keys.ToList();
            if (keys.Count != 1)
            {
                m.Doc.Error(m.Node, m.Path, "each filter is a mapping with exactly one key: requireHostLabels, excludeHosts, maxGuestsPerHost or maxHostCpuPercent");
                continue;
            }
            ExtraFilter? f = keys[0] switch
            {
                "requireHostLabels" => m.StringMap("requireHostLabels", about: "filter: only hosts carrying all these labels") is { Count: > 0 } labels
                    ? new RequireHostLabelsFilter(labels.ToImmutableSortedDictionary(StringComparer.Ordinal))
                    : Fail(m, "requireHostLabels", "needs at least one label"),
                "excludeHosts" => m.Strings("excludeHosts", about: "filter: never these hosts") is { Count: > 0 } hosts
                    ? new ExcludeHostsFilter(hosts.ToImmutableSortedSet(StringComparer.Ordinal))
                    : Fail(m, "excludeHosts", "needs at least one host"),
                "maxGuestsPerHost" => m.Int("maxGuestsPerHost", 1, 100_000, about: "filter: no more than this many guests on a host") is { } n ? new MaxGuestsPerHostFilter(n) : null,
                "maxHostCpuPercent" => m.Double("maxHostCpuPercent", 1, 100, about: "filter: a host above this CPU load takes no more guests") is { } p ? new MaxHostCpuFilter(p) : null,
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
            AllowBlockMigration = m.Bool("allowBlockMigration", about: "may guests with local disks be migrated (their disks copied)") ?? d.AllowBlockMigration,
            MaxOutboundPerHost = m.Int("maxOutboundPerHost", 1, 64, about: "migrations out of one host at once") ?? d.MaxOutboundPerHost,
            MaxInboundPerHost = m.Int("maxInboundPerHost", 1, 64, about: "migrations into one host at once") ?? d.MaxInboundPerHost,
            MaxConcurrent = m.Int("maxConcurrent", 1, 10_000, about: "migrations in the cluster at once") ?? d.MaxConcurrent,
            BandwidthMiBps = m.Double("bandwidthMiBps", 0, 1_000_000, about: "bandwidth limit per migration in MiB/s (0: the link's)") ?? d.BandwidthMiBps,
            DowntimeMs = m.Int("downtimeMs", 1, 60_000, about: "the downtime QEMU aims for at switch-over (its downtime-limit)") ?? d.DowntimeMs,
            MaxDowntimeMs = m.Int("maxDowntimeMs", 1, 60_000, about: "the ceiling the downtime may be raised to when a guest does not converge") ?? d.MaxDowntimeMs,
            AllowAutoConverge = m.Bool("allowAutoConverge", about: "may QEMU throttle a guest's vCPUs to converge") ?? d.AllowAutoConverge,
            AllowPostCopy = m.Bool("allowPostCopy", about: "may a migration switch to post-copy (the guest runs on the destination before all memory arrived)") ?? d.AllowPostCopy,
            CompletionTimeoutPerGiB = m.Int("completionTimeoutPerGiB", 1, 86_400, about: "seconds per GiB of memory and copied disk before a migration is cancelled (at least 2 minutes)") ?? d.CompletionTimeoutPerGiB,
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
            Threshold = m.Int("threshold", 1, 5, about: "1 conservative (mandatory moves only) … 5 aggressive") ?? d.Threshold,
            HoldMinutes = m.Double("holdMinutes", 0, 1440, about: "an imbalance must last this long before anything moves") ?? d.HoldMinutes,
            HighUtilizationPercent = m.Double("highUtilizationPercent", 50, 99, about: "a host above this load is overloaded") ?? d.HighUtilizationPercent,
            MinImprovement = m.Double("minImprovement", 0, 1, about: "each move must cut the imbalance by at least this fraction") ?? d.MinImprovement,
            MaxMovesPerRound = m.Int("maxMovesPerRound", 1, 1000, about: "migrations one planning round may propose") ?? d.MaxMovesPerRound,
            CpuWeight = m.Double("cpuWeight", 0, 100, about: "weight of CPU load in the imbalance") ?? d.CpuWeight,
            MemoryWeight = m.Double("memoryWeight", 0, 100, about: "weight of memory load in the imbalance") ?? d.MemoryWeight,
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
            TargetUtilizationPercent = m.Double("targetUtilizationPercent", 10, 95, about: "the load powered-on hosts should run at") ?? d.TargetUtilizationPercent,
            TolerancePercent = m.Double("tolerancePercent", 1, 50, about: "how far from the target the load may be before hosts are powered on or off") ?? d.TolerancePercent,
            HostsInReserve = m.Int("hostsInReserve", 0, 10_000, about: "empty hosts kept powered on for sudden load") ?? d.HostsInReserve,
            PowerOnWindowMinutes = m.Double("powerOnWindowMinutes", 0, 1440, about: "load must stay high this long before a host is powered on") ?? d.PowerOnWindowMinutes,
            PowerOffWindowMinutes = m.Double("powerOffWindowMinutes", 0, 1440, about: "load must stay low this long before a host is emptied and powered off") ?? d.PowerOffWindowMinutes,
            MaxPowerActionsPerRound = m.Int("maxPowerActionsPerRound", 1, 1000, about: "power-ons and power-offs one planning round may propose") ?? d.MaxPowerActionsPerRound,
            MaxMovesPerRound = m.Int("maxMovesPerRound", 1, 100_000, about: "migrations one planning round may propose") ?? d.MaxMovesPerRound,
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
            BootTimeoutMinutes = m.Double("bootTimeoutMinutes", 0.01, 1440, about: "a powered-on host must report within this time") ?? d.BootTimeoutMinutes,
            PowerOffTimeoutMinutes = m.Double("powerOffTimeoutMinutes", 0.01, 1440, about: "a powered-off host must be confirmed off within this time") ?? d.PowerOffTimeoutMinutes,
        };
        m.RejectUnknown();
        return s;
    }

    private static AdaptiveSettings ReadAdaptive(MapReader? m)
    {
        var d = new AdaptiveSettings();
        if (m is null) return d;
        var detector = m.Choice("detector", DetectorNames, about: "overload detector: static threshold, interquartile range, median absolute deviation, local regression, robust local regression") is { } di ? (OverloadDetector)di : d.Detector;
        var (lo, hi) = ParameterRange(detector);
        var s = new AdaptiveSettings
        {
            Detector = detector,
            Parameter = m.Double("parameter", lo, hi, about: "the detector's parameter: a utilisation for thr (0.8), a safety factor otherwise (iqr 1.5, mad 2.5, lr/lrr 1.2)") ?? DefaultParameter(detector),
            Selection = m.Choice("selection", SelectionNames, about: "which guest leaves an overloaded host: minimum migration time, maximum correlation, random, minimum utilisation") is { } si ? (VmSelection)si : d.Selection,
            FallbackThreshold = m.Double("fallbackThreshold", 0.01, 1, about: "the static threshold used while a host has too little history for its detector") ?? d.FallbackThreshold,
            ConsolidateUnderloaded = m.Bool("consolidateUnderloaded", about: "empty underloaded hosts so they can be powered off") ?? d.ConsolidateUnderloaded,
            MaxConsolidationsPerRound = m.Int("maxConsolidationsPerRound", 0, 1_000_000, about: "underloaded hosts one round may empty") ?? d.MaxConsolidationsPerRound,
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
