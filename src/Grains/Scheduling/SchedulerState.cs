using KvmCluster.Grains.Contracts;

namespace KvmCluster.Grains.Scheduling;

[GenerateSerializer, Alias("kvm.SchedulerState")]
public sealed class SchedulerState
{
    [Id(0)] public List<PlanView> Plans { get; set; } = [];
    /// <summary>Recent completed migrations (guest, from, to, when): hysteresis against ping-pong.</summary>
    [Id(1)] public List<MigrationView> RecentMigrations { get; set; } = [];
    /// <summary>The plan being executed and its current wave.</summary>
    [Id(2)] public string? ExecutingPlan { get; set; }
    [Id(3)] public int ExecutingWave { get; set; }
    [Id(4)] public Dictionary<string, MigrationStatus> PlanMigrations { get; set; } = [];
}

/// <summary>
/// The last report of every host ever seen: after a failover the new activation still knows a dead host's guests
/// (and reports them unreachable). Kept apart from plans: it is fleet-sized and written on a timer, not per plan.
/// </summary>
[GenerateSerializer, Alias("kvm.SchedulerRoster")]
public sealed class SchedulerRoster
{
    [Id(0)] public List<HostReport> Hosts { get; set; } = [];
}
