namespace KvmCluster.Sim.Cluster;

/// <summary>The trace's time, for the cluster's scheduling domain during a replay (set by the simulator).</summary>
internal sealed class TraceClock : TimeProvider
{
    private DateTimeOffset _now = DateTimeOffset.UnixEpoch;

    public void Set(double simulatedSeconds) => _now = DateTimeOffset.UnixEpoch.AddSeconds(simulatedSeconds);

    public override DateTimeOffset GetUtcNow() => _now;
}
