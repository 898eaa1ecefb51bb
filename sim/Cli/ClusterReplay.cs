using KvmCluster.Sim.Engine;

namespace KvmCluster.Sim.Cli;

/// <summary>
/// `run --through-cluster`: checks the request and starts the in-process cluster that takes the replay's decisions.
/// The NativeAOT build has no cluster (Orleans does not support NativeAOT) and says so.
/// </summary>
public sealed class ClusterReplay : IDisposable
{
    private readonly Func<SimDatacenter, IDecisionSource> _start;
    private IAsyncDisposable? _running;

    private ClusterReplay(Func<SimDatacenter, IDecisionSource> start) => _start = start;

    /// <summary>Starts the cluster for the simulated datacenter (called once, when the simulation is built).</summary>
    public IDecisionSource Decisions(SimDatacenter dc)
    {
        var source = _start(dc);
        _running = source as IAsyncDisposable;
        return source;
    }

    public static ClusterReplay For(RunCommand.Options o, SimPolicy policy, SimOptions options)
    {
        if (policy.Kind != SimPolicyKind.Planner)
            throw new UsageException($"--through-cluster replays planner-family policies (evenly-distributed, power-saving, …); '{o.Policy}' is {policy.Kind}");
        if (!File.Exists(o.Policy))
            throw new UsageException($"--through-cluster needs the policy as a file (the cluster takes policy documents), e.g. policies/balanced.yaml; '{o.Policy}' is not a file");
        if (o.Silos is < 1 or > 16) throw new UsageException("--silos must be 1..16");
#if CLUSTER_REPLAY
        var text = File.ReadAllText(o.Policy);
        return new ClusterReplay(dc => KvmCluster.Sim.Cluster.ClusterDecisions.Start(dc, text, o.Policy, options, o.Silos));
#else
        throw new UsageException("this kvmsim is the NativeAOT build, which has no cluster; run --through-cluster with `dotnet run -c Release --project sim -- run …`");
#endif
    }

    public void Dispose()
    {
        if (_running is not null) _running.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
