using System.Globalization;
using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Planning;

namespace KvmCluster.Grains.Scheduling;

public static class PlanViews
{
    public static PlanView From(Plan plan) => new(
        plan.Id, plan.Policy, plan.State.Upper(), plan.CreatedAt,
        [.. plan.Migrations.Select(m => new MoveView(m.Step, m.Wave, m.Guest, m.From, m.To, Math.Round(m.Cost.TotalSeconds, 3), m.Reasons, null))],
        [.. plan.PowerActions.Select(p => new PowerView(p.Step, p.Host, p.Operation == PowerOperation.PowerOn ? "power-on" : "power-off", p.Reasons, p.Wave))],
        [.. plan.Refused.Select(r => new RefusedView(r.Guest, r.From, r.To, r.Reason))],
        plan.Notes);

    public static PlanView WithState(this PlanView plan, PlanState state)
    {
        var from = Enum.Parse<PlanState>(plan.State, ignoreCase: true);
        if (!PlanStates.CanMove(from, state))
            throw ClusterException.Conflict($"plan {plan.Id} cannot go from {plan.State} to {state.Upper()}");
        return plan with { State = state.Upper() };
    }

    public static PlanState StateOf(this PlanView plan) => Enum.Parse<PlanState>(plan.State, ignoreCase: true);

    public static string MigrationId(PlanView plan, MoveView move) => string.Create(CultureInfo.InvariantCulture, $"{plan.Id}-{move.Step}");
}
