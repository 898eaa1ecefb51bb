using KvmCluster.Policies.Model;
using KvmCluster.Policies.Planning;

namespace KvmCluster.Grains.Scheduling;

/// <summary>The scheduler's fleet picture as the plan executor reads it (the snapshot built only when a wave starts).</summary>
internal sealed class SchedulerExecutionView(FleetView fleet, DateTimeOffset now, double sampleSeconds, IReadOnlyList<InFlightMigration> inFlight) : IExecutionView
{
    private FleetSnapshot? _snapshot;

    public DateTimeOffset Now => now;

    public FleetSnapshot Fleet() => _snapshot ??= fleet.Snapshot(sampleSeconds);

    public HostSighting? Host(string name) => fleet.Sighting(name);

    public IReadOnlyList<InFlightMigration> InFlight => inFlight;
}
