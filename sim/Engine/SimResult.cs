namespace KvmCluster.Sim.Engine;

/// <summary>The figures CloudSim's Helper prints, plus what the simulator adds (wall time, names).</summary>
public sealed record SimSummary
{
    public double EnergyKWh { get; init; }
    public int Migrations { get; init; }
    public double Slatah { get; init; }
    public double Pdm { get; init; }
    public double Slav { get; init; }
    public double Esv { get; init; }
    public double OverallSlaViolation { get; init; }
    public double AverageSlaViolation { get; init; }
    public int HostShutdowns { get; init; }
    public int Hosts { get; init; }
    public int Vms { get; init; }
    /// <summary>VMs that arrived when no host could take them (never in CloudSim's PlanetLab set-up).</summary>
    public int RejectedVms { get; init; }
    /// <summary>Native mode: migrations the cost model says would never converge; cancelled, the guest stays.</summary>
    public int FailedMigrations { get; init; }
    /// <summary>Native mode: hosts woken from standby.</summary>
    public int HostBoots { get; init; }
    public string Datacenter { get; init; } = "";
    public required double SimulatedSeconds { get; init; }
    public double WallSeconds { get; init; }
    public required string Policy { get; init; }
    public required string Trace { get; init; }
    public bool CloudSimCompat { get; init; }
    public long Seed { get; init; }
}

/// <summary>One row per datacenter update.</summary>
public readonly record struct TimeSeriesRow(double Time, int ActiveHosts, double PowerWatts, int OverloadedHosts, int Migrations, double MeanUtilization);

/// <param name="UtilizationHistogram">Active-host samples per 1 % utilisation bin (0..100).</param>
public sealed record SimResult(SimSummary Summary, IReadOnlyList<TimeSeriesRow> TimeSeries, IReadOnlyList<long> UtilizationHistogram);
