namespace KvmCluster.Sim.Engine.Decisions;

/// <summary>NPA and DVFS: CloudSim's first fit for arrivals, and no rebalancing.</summary>
internal sealed class FirstFitDecisions(SimDatacenter dc) : ISimDecisions, IBatchPlacement
{
    public IBatchPlacement StartPlacement(List<int> batch) => this;

    public int Find(int vm)
    {
        for (var h = 0; h < dc.Hosts.Length; h++)
            if (dc.IsSuitable(h, vm)) return h;
        return -1;
    }

    public void Placed(int host) { }

    public void Round() { }

    public void Progress() { }

    public IReadOnlyList<string> Decisions => [];

    public IReadOnlyList<string> Failures => [];
}
