using System.Collections.Immutable;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Documents;

/// <summary>
/// The policy document, written once: every option with its key, range and meaning, how it is read into the policy
/// and how it is written back. The reader (<see cref="PolicyDocument"/>), the writer (<see cref="PolicyWriter"/>) and
/// the reference (docs/policy-reference.md) all walk this table; the defaults are the records' own
/// (<c>new MigrationSettings()</c>, …), so a document that leaves an option out gets what code that builds a policy gets.
/// </summary>
internal static class PolicySchema
{
    public static readonly IReadOnlyList<string> BalancerNames = ["none", "evenly-distributed", "power-saving", "adaptive"];
    public static readonly IReadOnlyList<string> AutomationNames = ["manual", "partial", "full"];
    public static readonly IReadOnlyList<string> DetectorNames = ["thr", "iqr", "mad", "lr", "lrr"];
    public static readonly IReadOnlyList<string> SelectionNames = ["mmt", "mc", "rs", "mu"];

    public static readonly Section<Overcommit> Overcommit = new(new Overcommit(),
    [
        Field.Double<Overcommit>("cpu", 0.01, 64, s => s.Cpu, (s, v) => s with { Cpu = v }, "vCPUs per hardware thread"),
        Field.Double<Overcommit>("memory", 0.01, 4, s => s.Memory, (s, v) => s with { Memory = v },
            "guest MiB per host MiB (hugepage pools are never over-committed)"),
    ]);

    public static readonly Section<ScoreWeights> Weights = new(new ScoreWeights(),
    [
        Field.Double<ScoreWeights>("spread", 0, 1000, s => s.Spread, (s, v) => s with { Spread = v }, "prefer the least loaded host"),
        Field.Double<ScoreWeights>("pack", 0, 1000, s => s.Pack, (s, v) => s with { Pack = v }, "prefer the most loaded host that still fits (consolidation)"),
        Field.Double<ScoreWeights>("power", 0, 1000, s => s.Power, (s, v) => s with { Power = v }, "prefer the host whose power draw grows least"),
        Field.Double<ScoreWeights>("softAffinity", 0, 1000, s => s.SoftAffinity, (s, v) => s with { SoftAffinity = v },
            "prefer hosts that honour soft affinity rules"),
        Field.Double<ScoreWeights>("fewestMigrations", 0, 1000, s => s.FewestMigrations, (s, v) => s with { FewestMigrations = v },
            "prefer leaving a guest where it is"),
    ], (m, w) => { if (w.Sum <= 0) m.Doc.Error(m.Node, m.Path, "at least one weight must be positive"); });

    public static readonly Section<MigrationSettings> Migration = new(new MigrationSettings(),
    [
        Field.Bool<MigrationSettings>("allowBlockMigration", s => s.AllowBlockMigration, (s, v) => s with { AllowBlockMigration = v },
            "may guests with local disks be migrated (their disks copied)"),
        Field.Int<MigrationSettings>("maxOutboundPerHost", 1, 64, s => s.MaxOutboundPerHost, (s, v) => s with { MaxOutboundPerHost = v },
            "migrations out of one host at once"),
        Field.Int<MigrationSettings>("maxInboundPerHost", 1, 64, s => s.MaxInboundPerHost, (s, v) => s with { MaxInboundPerHost = v },
            "migrations into one host at once"),
        Field.Int<MigrationSettings>("maxConcurrent", 1, 10_000, s => s.MaxConcurrent, (s, v) => s with { MaxConcurrent = v },
            "migrations in the cluster at once"),
        Field.Double<MigrationSettings>("bandwidthMiBps", 0, 1_000_000, s => s.BandwidthMiBps, (s, v) => s with { BandwidthMiBps = v },
            "bandwidth limit per migration in MiB/s (0: the link's)"),
        Field.Int<MigrationSettings>("downtimeMs", 1, 60_000, s => s.DowntimeMs, (s, v) => s with { DowntimeMs = v },
            "the downtime QEMU aims for at switch-over (its downtime-limit)"),
        Field.Int<MigrationSettings>("maxDowntimeMs", 1, 60_000, s => s.MaxDowntimeMs, (s, v) => s with { MaxDowntimeMs = v },
            "the ceiling the downtime may be raised to when a guest does not converge"),
        Field.Bool<MigrationSettings>("allowAutoConverge", s => s.AllowAutoConverge, (s, v) => s with { AllowAutoConverge = v },
            "may QEMU throttle a guest's vCPUs to converge"),
        Field.Bool<MigrationSettings>("allowPostCopy", s => s.AllowPostCopy, (s, v) => s with { AllowPostCopy = v },
            "may a migration switch to post-copy (the guest runs on the destination before all memory arrived)"),
        Field.Bool<MigrationSettings>("allowOffline", s => s.AllowOffline, (s, v) => s with { AllowOffline = v },
            "may a plan move a guest offline (paused for the whole move, its disks copied) when it cannot move live: local disks not copied live, or no convergence"),
        Field.Int<MigrationSettings>("completionTimeoutPerGiB", 1, 86_400, s => s.CompletionTimeoutPerGiB, (s, v) => s with { CompletionTimeoutPerGiB = v },
            "seconds per GiB of memory and copied disk before a migration is cancelled (at least 2 minutes)"),
    ], (m, s) =>
    {
        if (s.MaxDowntimeMs < s.DowntimeMs) m.Error("maxDowntimeMs", $"must be ≥ downtimeMs ({s.DowntimeMs}), got {s.MaxDowntimeMs}");
    });

    public static readonly Section<EvenlyDistributedSettings> EvenlyDistributed = new(new EvenlyDistributedSettings(),
    [
        Field.Int<EvenlyDistributedSettings>("threshold", 1, 5, s => s.Threshold, (s, v) => s with { Threshold = v },
            "1 conservative (mandatory moves only) … 5 aggressive"),
        Field.Double<EvenlyDistributedSettings>("holdMinutes", 0, 1440, s => s.HoldMinutes, (s, v) => s with { HoldMinutes = v },
            "an imbalance must last this long before anything moves"),
        Field.Double<EvenlyDistributedSettings>("highUtilizationPercent", 50, 99, s => s.HighUtilizationPercent, (s, v) => s with { HighUtilizationPercent = v },
            "a host above this load is overloaded"),
        Field.Double<EvenlyDistributedSettings>("minImprovement", 0, 1, s => s.MinImprovement, (s, v) => s with { MinImprovement = v },
            "each move must cut the imbalance by at least this fraction"),
        Field.Int<EvenlyDistributedSettings>("maxMovesPerRound", 1, 1000, s => s.MaxMovesPerRound, (s, v) => s with { MaxMovesPerRound = v },
            "migrations one planning round may propose"),
        Field.Double<EvenlyDistributedSettings>("cpuWeight", 0, 100, s => s.CpuWeight, (s, v) => s with { CpuWeight = v },
            "weight of CPU load in the imbalance"),
        Field.Double<EvenlyDistributedSettings>("memoryWeight", 0, 100, s => s.MemoryWeight, (s, v) => s with { MemoryWeight = v },
            "weight of memory load in the imbalance"),
    ], (m, s) =>
    {
        if (s.CpuWeight + s.MemoryWeight <= 0) m.Doc.Error(m.Node, m.Path, "cpuWeight and memoryWeight cannot both be 0");
    });

    public static readonly Section<PowerSavingSettings> PowerSaving = new(new PowerSavingSettings(),
    [
        Field.Double<PowerSavingSettings>("targetUtilizationPercent", 10, 95, s => s.TargetUtilizationPercent, (s, v) => s with { TargetUtilizationPercent = v },
            "the load powered-on hosts should run at"),
        Field.Double<PowerSavingSettings>("tolerancePercent", 1, 50, s => s.TolerancePercent, (s, v) => s with { TolerancePercent = v },
            "how far from the target the load may be before hosts are powered on or off"),
        Field.Int<PowerSavingSettings>("hostsInReserve", 0, 10_000, s => s.HostsInReserve, (s, v) => s with { HostsInReserve = v },
            "empty hosts kept powered on for sudden load"),
        Field.Double<PowerSavingSettings>("powerOnWindowMinutes", 0, 1440, s => s.PowerOnWindowMinutes, (s, v) => s with { PowerOnWindowMinutes = v },
            "load must stay high this long before a host is powered on"),
        Field.Double<PowerSavingSettings>("powerOffWindowMinutes", 0, 1440, s => s.PowerOffWindowMinutes, (s, v) => s with { PowerOffWindowMinutes = v },
            "load must stay low this long before a host is emptied and powered off"),
        Field.Int<PowerSavingSettings>("maxPowerActionsPerRound", 1, 1000, s => s.MaxPowerActionsPerRound, (s, v) => s with { MaxPowerActionsPerRound = v },
            "power-ons and power-offs one planning round may propose"),
        Field.Int<PowerSavingSettings>("maxMovesPerRound", 1, 100_000, s => s.MaxMovesPerRound, (s, v) => s with { MaxMovesPerRound = v },
            "migrations one planning round may propose"),
    ], (m, s) =>
    {
        if (s.TargetUtilizationPercent + s.TolerancePercent > 100 || s.TargetUtilizationPercent - s.TolerancePercent < 0)
            m.Error("tolerancePercent", $"target {s.TargetUtilizationPercent}% ± {s.TolerancePercent}% must stay within 0–100%");
    });

    public static readonly Section<AdaptiveSettings> Adaptive = new(new AdaptiveSettings(),
    [
        Field.Choice<AdaptiveSettings>("detector", DetectorNames, s => (int)s.Detector,
            // A new detector brings its own default parameter; a parameter given in the document replaces it below.
            (s, v) => s with { Detector = (OverloadDetector)v, Parameter = DefaultParameter((OverloadDetector)v) },
            "overload detector: static threshold, interquartile range, median absolute deviation, local regression, robust local regression"),
        // The parameter's range depends on the detector read before it.
        new Field<AdaptiveSettings>("parameter", s => s.Parameter, (m, key, s) =>
        {
            var (lo, hi) = ParameterRange(s.Detector);
            return m.Double(key, lo, hi, about: "the detector's parameter: a utilisation for thr (0.8), a safety factor otherwise (iqr 1.5, mad 2.5, lr/lrr 1.2)") is { } v ? s with { Parameter = v } : s;
        }),
        Field.Choice<AdaptiveSettings>("selection", SelectionNames, s => (int)s.Selection, (s, v) => s with { Selection = (VmSelection)v },
            "which guest leaves an overloaded host: minimum migration time, maximum correlation, random, minimum utilisation"),
        Field.Double<AdaptiveSettings>("fallbackThreshold", 0.01, 1, s => s.FallbackThreshold, (s, v) => s with { FallbackThreshold = v },
            "the static threshold used while a host has too little history for its detector"),
        Field.Bool<AdaptiveSettings>("consolidateUnderloaded", s => s.ConsolidateUnderloaded, (s, v) => s with { ConsolidateUnderloaded = v },
            "empty underloaded hosts so they can be powered off"),
        Field.Int<AdaptiveSettings>("maxConsolidationsPerRound", 0, 1_000_000, s => s.MaxConsolidationsPerRound, (s, v) => s with { MaxConsolidationsPerRound = v },
            "underloaded hosts one round may empty"),
    ]);

    public static readonly Section<PowerActionSettings> Power = new(new PowerActionSettings(),
    [
        Field.Double<PowerActionSettings>("bootTimeoutMinutes", 0.01, 1440, s => s.BootTimeoutMinutes, (s, v) => s with { BootTimeoutMinutes = v },
            "a powered-on host must report within this time"),
        Field.Double<PowerActionSettings>("powerOffTimeoutMinutes", 0.01, 1440, s => s.PowerOffTimeoutMinutes, (s, v) => s with { PowerOffTimeoutMinutes = v },
            "a powered-off host must be confirmed off within this time"),
    ]);

    /// <summary>The filters a policy may add, each a mapping with one key.</summary>
    public static readonly IReadOnlyList<FilterKind> Filters =
    [
        new("requireHostLabels", m => m.StringMap("requireHostLabels", about: "filter: only hosts carrying all these labels") is { Count: > 0 } labels
                ? new RequireHostLabelsFilter(labels.ToImmutableSortedDictionary(StringComparer.Ordinal))
                : Fail(m, "requireHostLabels", "needs at least one label"),
            f => f is RequireHostLabelsFilter r ? r.Labels.ToDictionary(kv => kv.Key, kv => kv.Value) : null),
        new("excludeHosts", m => m.Strings("excludeHosts", about: "filter: never these hosts") is { Count: > 0 } hosts
                ? new ExcludeHostsFilter(hosts.ToImmutableSortedSet(StringComparer.Ordinal))
                : Fail(m, "excludeHosts", "needs at least one host"),
            f => f is ExcludeHostsFilter e ? e.Hosts.ToList() : null),
        new("maxGuestsPerHost", m => m.Int("maxGuestsPerHost", 1, 100_000, about: "filter: no more than this many guests on a host") is { } n ? new MaxGuestsPerHostFilter(n) : null,
            f => f is MaxGuestsPerHostFilter g ? g.Max : null),
        new("maxHostCpuPercent", m => m.Double("maxHostCpuPercent", 1, 100, about: "filter: a host above this CPU load takes no more guests") is { } p ? new MaxHostCpuFilter(p) : null,
            f => f is MaxHostCpuFilter c ? c.Percent : null),
    ];

    public static readonly Section<Policy> Document = new(new Policy { Name = "invalid" },
    [
        new Field<Policy>("name", p => p.Name, (m, key, p) =>
            m.String(key, required: true, about: "the policy's name, as `kvmcluster policy activate NAME` uses it") is { } name ? p with { Name = name } : p),
        new Field<Policy>("description", p => p.Description, (m, key, p) =>
            m.String(key, about: "free text shown with the policy") is { } d ? p with { Description = d } : p) { OmitWhenNull = true },
        Field.Choice<Policy>("balancer", BalancerNames, p => (int)p.Kind, (p, v) => p with { Kind = (BalancerKind)v },
            "what a planning round does: nothing, spread load, consolidate and power hosts down, or the CloudSim adaptive family"),
        Field.Choice<Policy>("automation", AutomationNames, p => (int)p.Automation, (p, v) => p with { Automation = (AutomationLevel)v },
            "who approves plans: an operator (manual, partial) or nobody (full: the planning timer executes them)"),
        new Field<Policy>("seed", p => p.Seed, (m, key, p) =>
            m.Long(key, 0, about: "seed of every random choice the policy makes: the same inputs and seed give the same plan") is { } s ? p with { Seed = s } : p),
        Field.Section<Policy, Overcommit>("overcommit", Overcommit, p => p.Overcommit, (p, v) => p with { Overcommit = v },
            "how much more than the hardware guests may be given"),
        Field.Section<Policy, ScoreWeights>("weights", Weights, p => p.Weights, (p, v) => p with { Weights = v },
            "how much each scorer counts when choosing among feasible hosts (each is normalised to 0…1)"),
        new Field<Policy>("filters", p => p.Filters.Select(WriteFilter).ToList(), (m, key, p) => p with { Filters = ReadFilters(m, key) }),
        Field.Section<Policy, MigrationSettings>("migration", Migration, p => p.Migration, (p, v) => p with { Migration = v },
            "how migrations run, and how many at once"),
        Field.Section<Policy, EvenlyDistributedSettings>("evenlyDistributed", EvenlyDistributed, p => p.EvenlyDistributed, (p, v) => p with { EvenlyDistributed = v },
            "settings of the evenly-distributed balancer (oVirt's evenly_distributed, DRS-like thresholds)"),
        Field.Section<Policy, PowerSavingSettings>("powerSaving", PowerSaving, p => p.PowerSaving, (p, v) => p with { PowerSaving = v },
            "settings of the power-saving balancer (VMware DPM-like)"),
        Field.Section<Policy, AdaptiveSettings>("adaptive", Adaptive, p => p.Adaptive, (p, v) => p with { Adaptive = v },
            "settings of the CloudSim adaptive family (Beloglazov & Buyya): overload detector and VM selection"),
        Field.Section<Policy, PowerActionSettings>("power", Power, p => p.Power, (p, v) => p with { Power = v },
            "how long power actions may take before the plan fails"),
    ]);

    private static ImmutableArray<ExtraFilter> ReadFilters(MapReader root, string key)
    {
        var list = ImmutableArray.CreateBuilder<ExtraFilter>();
        foreach (var m in root.Maps(key, about: "extra filters, each a mapping with one key; they add to the mandatory constraints, never remove one"))
        {
            var keys = m.Keys.ToList();
            if (keys.Count != 1)
            {
                m.Doc.Error(m.Node, m.Path, $"each filter is a mapping with exactly one key: {string.Join(", ", Filters.Select(f => f.Key))}");
                continue;
            }
            var f = Filters.FirstOrDefault(k => k.Key == keys[0])?.Read(m);
            m.RejectUnknown();
            if (f is not null) list.Add(f);
        }
        return list.ToImmutable();
    }

    private static Dictionary<string, object?> WriteFilter(ExtraFilter f)
    {
        foreach (var kind in Filters)
            if (kind.Write(f) is { } value) return new() { [kind.Key] = value };
        throw new NotSupportedException(f.GetType().Name);
    }

    private static ExtraFilter? Fail(MapReader m, string key, string message)
    {
        m.Error(key, message);
        return null;
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

/// <summary>One filter kind: its key, how it is read from its one-key mapping, and its value when written (null: not this kind).</summary>
internal sealed record FilterKind(string Key, Func<MapReader, ExtraFilter?> Read, Func<ExtraFilter, object?> Write);

/// <summary>
/// One option of a section of type <typeparamref name="T"/>: how it is read into a <typeparamref name="T"/> (a value
/// that is absent or wrong leaves the section as it was, the error recorded) and what it writes.
/// </summary>
internal sealed record Field<T>(string Key, Func<T, object?> Write, Func<MapReader, string, T, T> Read)
{
    /// <summary>Left out of a written document when it has no value (an optional free-text field).</summary>
    public bool OmitWhenNull { get; init; }
}

/// <summary>A mapping of options, read into and written from one settings record; <c>Check</c> holds rules across its options.</summary>
internal sealed record Section<T>(T Defaults, IReadOnlyList<Field<T>> Fields, Action<MapReader, T>? Check = null)
{
    public T Read(MapReader? m)
    {
        if (m is null) return Defaults;
        var value = Defaults;
        foreach (var f in Fields) value = f.Read(m, f.Key, value);
        Check?.Invoke(m, value);
        m.RejectUnknown();
        return value;
    }

    public Dictionary<string, object?> Write(T value)
    {
        var map = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var f in Fields)
            if (f.Write(value) is { } v) map[f.Key] = v;
            else if (!f.OmitWhenNull) map[f.Key] = null;
        return map;
    }
}

internal static class Field
{
    public static Field<T> Double<T>(string key, double min, double max, Func<T, double> get, Func<T, double, T> set, string about) =>
        new(key, s => get(s), (m, k, s) => m.Double(k, min, max, about: about) is { } v ? set(s, v) : s);

    public static Field<T> Int<T>(string key, int min, int max, Func<T, int> get, Func<T, int, T> set, string about) =>
        new(key, s => get(s), (m, k, s) => m.Int(k, min, max, about: about) is { } v ? set(s, v) : s);

    public static Field<T> Bool<T>(string key, Func<T, bool> get, Func<T, bool, T> set, string about) =>
        new(key, s => get(s), (m, k, s) => m.Bool(k, about: about) is { } v ? set(s, v) : s);

    /// <summary>One of <paramref name="names"/>, held as its index (the enum's value).</summary>
    public static Field<T> Choice<T>(string key, IReadOnlyList<string> names, Func<T, int> get, Func<T, int, T> set, string about) =>
        new(key, s => names[get(s)], (m, k, s) => m.Choice(k, names, about: about) is { } v ? set(s, v) : s);

    public static Field<T> Section<T, TSection>(string key, Section<TSection> section, Func<T, TSection> get, Func<T, TSection, T> set, string about) =>
        new(key, s => section.Write(get(s)), (m, k, s) => m.Map(k, about: about) is { } map ? set(s, section.Read(map)) : s);
}
