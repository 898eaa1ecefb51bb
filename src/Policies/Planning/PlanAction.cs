using KvmCluster.Policies.Migration;

namespace KvmCluster.Policies.Planning;

public enum PowerOperation
{
    PowerOn,
    PowerOff,
}

/// <summary>
/// One step of a plan. Actions of the same <see cref="Wave"/> may run at once; a wave starts when the
/// previous one has finished. <see cref="Step"/> numbers actions in execution order.
/// </summary>
public abstract record PlanAction
{
    public int Step { get; init; }
    public int Wave { get; init; }
    public IReadOnlyList<string> Reasons { get; init; } = [];
}

/// <summary>Live-migrate a guest, with the cost the model predicts for it.</summary>
public sealed record MigrateAction(string Guest, string From, string To, MigrationPrediction Cost) : PlanAction
{
    /// <summary>Moved offline: paused for the whole move, so its downtime is the move's whole time.</summary>
    public bool Offline { get; init; }

    public override string ToString() => Offline
        ? $"migrate {Guest} {From} → {To} offline (paused {Cost.TotalSeconds:0.#} s; {Cost})"
        : $"migrate {Guest} {From} → {To} ({Cost})";
}

/// <summary>Power a host on or off through the power controller (IPMI, command, or the simulator's model).</summary>
public sealed record PowerAction(string Host, PowerOperation Operation) : PlanAction
{
    public override string ToString() => $"{(Operation == PowerOperation.PowerOn ? "power-on" : "power-off")} {Host}";
}

/// <summary>A move a balancer wanted that the plan does not contain, and why.</summary>
public sealed record RefusedMove(string Guest, string From, string? To, string Reason)
{
    public override string ToString() => $"{Guest} {From} → {To ?? "?"}: {Reason}";
}
