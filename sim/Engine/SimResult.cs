namespace KvmCluster.Sim.Engine;

/// <summary>The figures CloudSim's Helper prints, plus what the simulator adds (wall time, names).</summary>
public sealed record SimSummary
{
    public required double EnergyKWh { get; init; }
    public required int Migrations { get; init; }
    public required double Slatah { get; init; }
    public required double Pdm { get; init; }
    public required double Slav { get; init; }
    public required double Esv { get; init; }
    public required double OverallSlaViolation { get; init; }
    public required double AverageSlaViolation { get; init; }
    public required int HostShutdowns { get; init; }
    public required int Hosts { get; init; }
    public required int Vms { get; init; }
    public required double SimulatedSeconds { get; init; }
    public double WallSeconds { get; init; }
    public required string Policy { get; init; }
    public required string Trace { get; init; }
    public bool CloudSimCompat { get; init; }
    public long Seed { get; init; }
}

/// <summary>One row per datacenter update.</summary>
public readonly record struct TimeSeriesRow(double Time, int ActiveHosts, double PowerWatts, int OverloadedHosts, int Migrations, double MeanUtilization);

public sealed record SimResult(SimSummary Summary, IReadOnlyList<TimeSeriesRow> TimeSeries, IReadOnlyList<double> ActiveHostUtilizations);
