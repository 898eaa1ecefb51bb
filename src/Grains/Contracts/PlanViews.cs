namespace KvmCluster.Grains.Contracts;

[GenerateSerializer, Immutable, Alias("kvm.MoveView")]
public sealed record MoveView(
    [property: Id(0)] int Step,
    [property: Id(1)] int Wave,
    [property: Id(2)] string Guest,
    [property: Id(3)] string From,
    [property: Id(4)] string To,
    [property: Id(5)] double PredictedSeconds,
    [property: Id(6)] IReadOnlyList<string> Reasons,
    [property: Id(7)] string? Migration)
{
    /// <summary>pending, running, completed or failed, while and after the plan executes.</summary>
    [Id(8)] public string? Status { get; init; }
    [Id(9)] public string? Detail { get; init; }
    /// <summary>Moved offline: paused for the whole move (<see cref="MoveView.PredictedSeconds"/> is its downtime).</summary>
    [Id(10)] public bool Offline { get; init; }
}

[GenerateSerializer, Immutable, Alias("kvm.PowerView")]
public sealed record PowerView(
    [property: Id(0)] int Step,
    [property: Id(1)] string Host,
    [property: Id(2)] string Operation,
    [property: Id(3)] IReadOnlyList<string> Reasons,
    [property: Id(4)] int Wave)
{
    [Id(5)] public string? Status { get; init; }
    /// <summary>What the step waits for (booting, awaiting-empty, confirming-off) or why it failed.</summary>
    [Id(6)] public string? Detail { get; init; }
}

[GenerateSerializer, Immutable, Alias("kvm.RefusedView")]
public sealed record RefusedView(
    [property: Id(0)] string Guest,
    [property: Id(1)] string From,
    [property: Id(2)] string? To,
    [property: Id(3)] string Reason);

/// <summary>A plan as kept by the scheduler: RECOMMENDED → APPROVED → EXECUTING → SUCCEEDED | FAILED, or CANCELLED/SUPERSEDED.</summary>
[GenerateSerializer, Immutable, Alias("kvm.PlanView")]
public sealed record PlanView(
    [property: Id(0)] string Id,
    [property: Id(1)] string Policy,
    [property: Id(2)] string State,
    [property: Id(3)] DateTimeOffset CreatedAt,
    [property: Id(4)] IReadOnlyList<MoveView> Moves,
    [property: Id(5)] IReadOnlyList<PowerView> PowerActions,
    [property: Id(6)] IReadOnlyList<RefusedView> Refused,
    [property: Id(7)] IReadOnlyList<string> Notes)
{
    /// <summary>The wave being (or last) carried out.</summary>
    [Id(8)] public int Wave { get; init; }
    /// <summary>Why it failed: the step that failed and its reason.</summary>
    [Id(9)] public string? Failure { get; init; }
}
