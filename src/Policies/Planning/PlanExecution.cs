using System.Collections.Immutable;

namespace KvmCluster.Policies.Planning;

/// <summary>
/// The state of one executing plan: its steps, where each stands, the wave being carried out, and the outcome.
/// It is all the executor needs, so a shell that persists it (the scheduler grain does) resumes a plan after a
/// restart exactly where it was.
/// </summary>
public sealed record PlanExecution
{
    public required string PlanId { get; init; }
    public required ImmutableArray<PlanStep> Plan { get; init; }
    public required ImmutableArray<StepExecution> Steps { get; init; }
    public PlanState State { get; init; } = PlanState.Executing;
    /// <summary>The wave being carried out (0 before the first starts).</summary>
    public int Wave { get; init; }
    public DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    /// <summary>Why the plan failed: the first step that failed and its reason.</summary>
    public string? Failure { get; init; }

    public bool IsFinished => State != PlanState.Executing;

    public PlanStep StepOf(int step) => Plan.First(s => s.Step == step);

    public StepExecution Progress(int step) => Steps.First(s => s.Step == step);

    internal PlanExecution With(StepExecution s) => this with { Steps = Steps.SetItem(Steps.IndexOf(Progress(s.Step)), s) };
}
