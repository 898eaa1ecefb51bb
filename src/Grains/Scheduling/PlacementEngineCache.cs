using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Grains.Scheduling;

/// <summary>
/// The scheduler's placement engine, kept between calls: building one costs a fleet snapshot, so placements reuse it.
/// <para>
/// Invariant: the engine holds the fleet as of <see cref="_version"/> plus every guest placed through it since.
/// A fleet change that did not come through it (a report, a migration, a lost guest) makes it stale, and so do another
/// policy and — at most every <c>usageRefresh</c>, a cost bound — newer usage samples. While placements are in flight
/// it is never replaced: their reservations live in it, and a new engine would let two of them take the same room.
/// </para>
/// </summary>
public sealed class PlacementEngineCache(TimeSpan usageRefresh, double usageSampleSeconds)
{
    private PlacementEngine? _engine;
    private long _version = -1;
    private long _reported = -1;
    private DateTime _builtAt;

    /// <summary>Placements under way (they interleave in the scheduler grain).</summary>
    public int InFlight { get; private set; }

    public void PlacementStarted() => InFlight++;

    public void PlacementEnded() => InFlight--;

    /// <summary>The engine other placements in flight reserve in, to be shared rather than replaced; or null.</summary>
    public PlacementEngine? Shared => InFlight > 1 ? _engine : null;

    /// <summary>An engine for <paramref name="fleet"/> as it is now under <paramref name="policy"/>: the kept one while the invariant holds.</summary>
    public PlacementEngine For(FleetView fleet, Policy policy)
    {
        // Real time, not fleet time: this bounds how often usage samples alone cost a snapshot.
        var usageStale = fleet.Reported != _reported && DateTime.UtcNow - _builtAt >= usageRefresh;
        if (_engine is null || _version != fleet.Version || usageStale || !ReferenceEquals(_engine.Policy, policy))
        {
            _engine = new PlacementEngine(fleet.Snapshot(usageSampleSeconds), policy);
            _version = fleet.Version;
            _reported = fleet.Reported;
            _builtAt = DateTime.UtcNow;
        }
        return _engine;
    }

    /// <summary>A guest placed through the engine is in the fleet now: the fleet's new version is the engine's too.</summary>
    public void Placed(FleetView fleet) => _version = fleet.Version;

    /// <summary>The engine no longer holds the fleet (a placement undone, a guest it cannot see): the next call builds one.</summary>
    public void Invalidate() => _engine = null;
}
