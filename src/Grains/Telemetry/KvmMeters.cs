using System.Diagnostics.Metrics;

namespace KvmCluster.Grains.Telemetry;

/// <summary>The cluster's own instruments (meter "KvmCluster"), exported with Orleans' on the silo's /metrics.</summary>
public static class KvmMeters
{
    public const string Name = "KvmCluster";
    private static readonly Meter Meter = new(Name);

    public static readonly Counter<long> Placements = Meter.CreateCounter<long>("kvmcluster.placements", "{guest}", "Guests placed and launched");
    public static readonly Counter<long> PlacementsRefused = Meter.CreateCounter<long>("kvmcluster.placements.refused", "{guest}", "Placements no host could take");
    public static readonly Histogram<double> PlanningDuration = Meter.CreateHistogram<double>("kvmcluster.planning.duration", "s", "Time of one planning round");
    /// <summary>Tagged with outcome = completed | failed | cancelled.</summary>
    public static readonly Counter<long> Migrations = Meter.CreateCounter<long>("kvmcluster.migrations", "{migration}", "Migrations ended, by outcome");
}
