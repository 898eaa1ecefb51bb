using System.Globalization;
using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Planning;

namespace KvmCluster.Grains.Scheduling;

public static class PlanViewMapping
{
    public static PlanView From(Plan plan) => new(
        plan.Id, plan.Policy, plan.State.Upper(), plan.CreatedAt,
        [.. plan.Migrations.Select(m => new MoveView(m.Step, m.Wave, m.Guest, m.From, m.To, Math.Round(m.Cost.TotalSeconds, 3), m.Reasons, null) { Offline = m.Offline })],
        [.. plan.PowerActions.Select(p => new PowerView(p.Step, p.Host, p.Operation == PowerOperation.PowerOn ? "power-on" : "power-off", p.Reasons, p.Wave))],
        [.. plan.Refused.Select(r => new RefusedView(r.Guest, r.From, r.To, r.Reason))],
        plan.Notes);

    /// <summary>The plan's steps for the executor.</summary>
    public static IReadOnlyList<PlanStep> Steps(PlanView plan) =>
    [
        .. plan.Moves.Select(m => new PlanStep(m.Step, m.Wave, StepKind.Migrate, m.To, m.Guest, m.From)),
        .. plan.PowerActions.Select(p => new PlanStep(p.Step, p.Wave, p.Operation == "power-on" ? StepKind.PowerOn : StepKind.PowerOff, p.Host)),
    ];

    /// <summary>The plan with each step's progress as the executor has it.</summary>
    public static PlanView WithProgress(this PlanView plan, PlanExecution e) => plan with
    {
        Wave = e.Wave,
        Failure = e.Failure,
        Moves = [.. plan.Moves.Select(m => e.Progress(m.Step) is var s
            ? m with { Status = Name(s.Status), Detail = s.Detail, Migration = s.Status == StepStatus.Pending ? m.Migration : MigrationId(plan.Id, m.Step) }
            : m)],
        PowerActions = [.. plan.PowerActions.Select(p => e.Progress(p.Step) is var s
            ? p with { Status = Name(s.Status), Detail = s.Status == StepStatus.Running ? Phase(s.Phase) + (s.Detail is { } d ? ": " + d : "") : s.Detail }
            : p)],
    };

    private static string Name(StepStatus s) => s.ToString().ToLowerInvariant();

    private static string Phase(StepPhase p) => p switch
    {
        StepPhase.AwaitingEmpty => "awaiting-empty",
        StepPhase.ConfirmingOff => "confirming-off",
        _ => p.ToString().ToLowerInvariant(),
    };

    public static PlanView WithState(this PlanView plan, PlanState state)
    {
        var from = Enum.Parse<PlanState>(plan.State, ignoreCase: true);
        if (!PlanStates.CanMove(from, state))
            throw ClusterException.Conflict($"plan {plan.Id} cannot go from {plan.State} to {state.Upper()}");
        return plan with { State = state.Upper() };
    }

    public static PlanState StateOf(this PlanView plan) => Enum.Parse<PlanState>(plan.State, ignoreCase: true);

    /// <summary>A plan's migration ids are its id and the step: the same plan always starts the same migrations.</summary>
    public static string MigrationId(string plan, int step) => string.Create(CultureInfo.InvariantCulture, $"{plan}-{step}");

    /// <summary>The step of a plan migration id, or null when it is not one of <paramref name="plan"/>'s.</summary>
    public static int? StepOf(string plan, string migration) =>
        migration.StartsWith(plan + "-", StringComparison.Ordinal) && int.TryParse(migration.AsSpan(plan.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var step) ? step : null;
}
