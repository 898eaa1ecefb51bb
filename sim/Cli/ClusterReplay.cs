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
        if (policy.Kind is SimPolicyKind.NonPowerAware or SimPolicyKind.Dvfs)
            throw new UsageException($"--through-cluster replays cluster policies (built-in names or policy files); '{o.Policy}' is a simulator baseline with no cluster counterpart");
        if (o.Silos is < 1 or > 16) throw new UsageException("--silos must be 1..16");
#if CLUSTER_REPLAY
        // A file is submitted as the document it is; a built-in name is activated by name, as an operator would.
        var text = File.Exists(o.Policy) ? File.ReadAllText(o.Policy) : null;
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
