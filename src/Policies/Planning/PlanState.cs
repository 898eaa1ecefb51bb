namespace KvmCluster.Policies.Planning;

/// <summary>Life cycle of a plan, as OpenStack Watcher's action plans.</summary>
public enum PlanState
{
    Recommended,
    Approved,
    Executing,
    Succeeded,
    Failed,
    Cancelled,
    /// <summary>A newer plan replaced it before it ran (the fleet changed).</summary>
    Superseded,
}

public static class PlanStates
{
    /// <summary>The transitions a plan may make; everything else is refused.</summary>
    public static bool CanMove(PlanState from, PlanState to) => (from, to) switch
    {
        (PlanState.Recommended, PlanState.Approved or PlanState.Cancelled or PlanState.Superseded) => true,
        (PlanState.Approved, PlanState.Executing or PlanState.Cancelled or PlanState.Superseded) => true,
        (PlanState.Executing, PlanState.Succeeded or PlanState.Failed or PlanState.Cancelled) => true,
        _ => false,
    };

    public static bool IsFinal(this PlanState s) => s is PlanState.Succeeded or PlanState.Failed or PlanState.Cancelled or PlanState.Superseded;

    public static string Upper(this PlanState s) => s.ToString().ToUpperInvariant();
}
