namespace KvmCluster.Policies.Planning;

public enum StepKind
{
    Migrate,
    PowerOn,
    PowerOff,
}

/// <summary>
/// One action of a plan as the executor carries it out: a migration of <see cref="Guest"/> from <see cref="From"/>
/// to <see cref="Host"/>, or a power action on <see cref="Host"/>. Steps of a wave run together; a wave starts when
/// the one before it has completed.
/// </summary>
public sealed record PlanStep(int Step, int Wave, StepKind Kind, string Host, string? Guest = null, string? From = null)
{
    public override string ToString() => Kind switch
    {
        StepKind.Migrate => $"migrate {Guest} {From} → {Host}",
        StepKind.PowerOn => $"power-on {Host}",
        _ => $"power-off {Host}",
    };

    public static IReadOnlyList<PlanStep> Of(Plan plan) => [.. plan.Actions.OrderBy(a => a.Step).Select(a => a switch
    {
        MigrateAction m => new PlanStep(m.Step, m.Wave, StepKind.Migrate, m.To, m.Guest, m.From),
        PowerAction p => new PlanStep(p.Step, p.Wave, p.Operation == PowerOperation.PowerOn ? StepKind.PowerOn : StepKind.PowerOff, p.Host),
        _ => throw new InvalidOperationException($"unknown plan action {a}"),
    })];
}
