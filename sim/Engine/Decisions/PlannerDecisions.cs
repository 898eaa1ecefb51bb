namespace KvmCluster.Sim.Engine.Decisions;

/// <summary>The live cluster's way: the policy's placement for arrivals, and each interval a planning round whose plan the core's executor carries out.</summary>
internal sealed class PlannerDecisions(PlanDriver planner) : ISimDecisions, IBatchPlacement
{
    public IBatchPlacement StartPlacement(List<int> batch) => this;

    public int Find(int vm) => planner.Place(vm);

    public void Placed(int host) { }

    public void Round() => planner.Step();

    public void Progress() => planner.Progress();

    public IReadOnlyList<string> Decisions => planner.Decisions;

    public IReadOnlyList<string> Failures => planner.Failures;
}
