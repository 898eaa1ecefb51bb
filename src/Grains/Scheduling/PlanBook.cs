using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Planning;

namespace KvmCluster.Grains.Scheduling;

/// <summary>
/// The scheduler's plans through their life cycle, and the rules of keeping them: a new plan supersedes the
/// recommendations before it, never an approved or executing plan; at most <c>PlansKept</c> are kept, the oldest
/// finished ones dropped first, an approved or executing one never. The list is the scheduler's persisted state
/// (<see cref="SchedulerState.Plans"/>); the grain saves it after each change.
/// </summary>
public sealed class PlanBook(Func<SchedulerState> state, int kept)
{
    private List<PlanView> List => state().Plans;

    public IReadOnlyList<PlanView> All => List;

    /// <summary>The plan that is approved or executing, if any: while there is one no new plan is made or imported.</summary>
    public PlanView? Busy => List.FirstOrDefault(p => p.StateOf() is PlanState.Approved or PlanState.Executing);

    public bool Contains(string id) => List.Exists(p => p.Id == id);

    public PlanView Find(string id) => List.LastOrDefault(p => p.Id == id) ?? throw ClusterException.NotFound($"no plan {id}");

    public void Add(PlanView plan)
    {
        var plans = List;
        for (var i = 0; i < plans.Count; i++)
            if (plans[i].StateOf() == PlanState.Recommended) plans[i] = plans[i].WithState(PlanState.Superseded);
        plans.Add(plan);
        if (plans.Count > kept)
        {
            var excess = plans.Count - kept;
            plans.RemoveAll(p => excess > 0 && p.StateOf().IsFinal() && excess-- > 0);
        }
    }

    public void Replace(PlanView plan)
    {
        var i = List.FindLastIndex(p => p.Id == plan.Id);
        List[i] = plan;
    }

    public PlanView SetState(string id, PlanState to)
    {
        var plan = Find(id).WithState(to);
        Replace(plan);
        return plan;
    }

    /// <summary>
    /// An imported cluster's plans go first, then those this cluster made since it started (its recommendations give
    /// way to the imported ones). A plan that was executing stopped with the old cluster: it comes back FAILED.
    /// </summary>
    public void Import(IEnumerable<PlanView> imported)
    {
        var plans = imported.Select(p => p.StateOf() == PlanState.Executing
            ? p with { State = PlanState.Failed.Upper(), Failure = p.Failure ?? "interrupted: the cluster's state was exported while it ran" }
            : p).ToList();
        foreach (var p in List)
            plans.Add(p.StateOf() == PlanState.Recommended ? p.WithState(PlanState.Superseded) : p);
        if (plans.Count > kept) plans.RemoveRange(0, plans.Count - kept);
        state().Plans = plans;
    }
}
