namespace KvmCluster.Policies.Rules;

/// <summary>Parameters of the evenly-distributed balancer.</summary>
public sealed record EvenlyDistributedSettings
{
    /// <summary>DRS-like migration threshold: 1 conservative (mandatory moves only) … 5 aggressive.</summary>
    public int Threshold { get; init; } = 3;
    /// <summary>Imbalance must persist this long before acting (oVirt CpuOverCommitDurationMinutes = 2).</summary>
    public double HoldMinutes { get; init; } = 2;
    /// <summary>A host above this CPU or memory utilisation (percent) is overloaded whatever the spread.</summary>
    public double HighUtilizationPercent { get; init; } = 80;
    /// <summary>Each move must reduce imbalance by at least this fraction of its current value (Proxmox margin 0.1).</summary>
    public double MinImprovement { get; init; } = 0.1;
    public int MaxMovesPerRound { get; init; } = 2;
    public double CpuWeight { get; init; } = 1;
    public double MemoryWeight { get; init; } = 1;
}

/// <summary>Parameters of the power-saving balancer (VMware DPM / oVirt power_saving).</summary>
public sealed record PowerSavingSettings
{
    /// <summary>Target utilisation of powered-on hosts (DPM DemandCapacityRatioTarget 63 %).</summary>
    public double TargetUtilizationPercent { get; init; } = 63;
    /// <summary>Band around the target (DPM DemandCapacityRatioToleranceHost 18 % → 45–81 %).</summary>
    public double TolerancePercent { get; init; } = 18;
    /// <summary>Empty hosts kept powered on for sudden demand (oVirt HostsInReserve).</summary>
    public int HostsInReserve { get; init; }
    /// <summary>Demand history looked at before powering a host on (DPM: 5 minutes).</summary>
    public double PowerOnWindowMinutes { get; init; } = 5;
    /// <summary>Demand history looked at before powering a host off (DPM: 40 minutes).</summary>
    public double PowerOffWindowMinutes { get; init; } = 40;
    /// <summary>Power transitions per round unless demand is urgent (oVirt: one).</summary>
    public int MaxPowerActionsPerRound { get; init; } = 1;
    /// <summary>Migrations per round that relieve hosts above the band (an evacuation is all-or-nothing and not counted).</summary>
    public int MaxMovesPerRound { get; init; } = 16;
}

public enum OverloadDetector { Thr, Iqr, Mad, Lr, Lrr }

public enum VmSelection { Mmt, Mc, Rs, Mu }

/// <summary>Parameters of the adaptive (CloudSim / Beloglazov–Buyya) family.</summary>
public sealed record AdaptiveSettings
{
    public OverloadDetector Detector { get; init; } = OverloadDetector.Lr;
    /// <summary>THR: utilisation threshold (0..1); IQR/MAD: safety s; LR/LRR: safety multiplier.</summary>
    public double Parameter { get; init; } = 1.2;
    public VmSelection Selection { get; init; } = VmSelection.Mmt;
    /// <summary>THR threshold used while a host has too little history for the statistical detectors.</summary>
    public double FallbackThreshold { get; init; } = 0.7;
    /// <summary>Consolidate under-used hosts (all-or-nothing evacuation) after relieving overloads.</summary>
    public bool ConsolidateUnderloaded { get; init; } = true;
    /// <summary>
    /// Under-used hosts tried per round; 0 means CloudSim's "until none is left", which is quadratic in hosts.
    /// A live fleet consolidates gradually; the simulator's CloudSim-compatible mode uses 0.
    /// </summary>
    public int MaxConsolidationsPerRound { get; init; } = 10;

    public string ShortName => $"{Detector.ToString().ToLowerInvariant()}-{Selection.ToString().ToLowerInvariant()}-{Parameter.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
}
