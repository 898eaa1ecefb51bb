using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Planning;

namespace KvmCluster.Grains.Scheduling;

[GenerateSerializer, Alias("kvm.SchedulerState")]
public sealed class SchedulerState
{
    [Id(0)] public List<PlanView> Plans { get; set; } = [];
    /// <summary>The executing plan's executor state: a restarted scheduler resumes it from here.</summary>
    [Id(5)] public PlanExecution? Execution { get; set; }
    /// <summary>Migrations under way (plans' and operators'), by guest.</summary>
    [Id(6)] public Dictionary<string, ActiveMigration> Active { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Completed migrations a planning round still sees (hysteresis against ping-pong).</summary>
    [Id(7)] public List<RecentMigration> Recent { get; set; } = [];
    /// <summary>What the power controller last said of hosts that do not report.</summary>
    [Id(8)] public Dictionary<string, PowerState> PowerStatus { get; set; } = new(StringComparer.Ordinal);
}

[GenerateSerializer, Immutable, Alias("kvm.ActiveMigration")]
public sealed record ActiveMigration([property: Id(0)] string Id, [property: Id(1)] MigrationOrder Order);

/// <summary>
/// The last report of every host ever seen: after a failover the new activation still knows a dead host's guests
/// (and reports them unreachable). Kept apart from plans: it is fleet-sized and written on a timer, not per plan.
/// </summary>
[GenerateSerializer, Alias("kvm.SchedulerRoster")]
public sealed class SchedulerRoster
{
    [Id(0)] public List<HostReport> Hosts { get; set; } = [];
}
