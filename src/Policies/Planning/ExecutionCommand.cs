using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Planning;

/// <summary>
/// What the executor asks its shell to do now. The shell carries it out (a migration grain, the power controller,
/// the simulator's datacenter) and records the outcome with <see cref="PlanExecutor.Record"/>.
/// </summary>
public abstract record ExecutionCommand(int Step);

public sealed record StartMigration(int Step, string Guest, string From, string To) : ExecutionCommand(Step);

public sealed record PowerOnHost(int Step, string Host) : ExecutionCommand(Step);

public sealed record PowerOffHost(int Step, string Host) : ExecutionCommand(Step);

/// <summary>Ask the power controller's status of the host (confirming a power-off).</summary>
public sealed record ReadPowerStatus(int Step, string Host) : ExecutionCommand(Step);

/// <summary>The outcome of a command, as the shell saw it.</summary>
public abstract record StepOutcome(int Step);

/// <summary>The step's migration ended: completed, or failed/cancelled with the reason (the guest stayed on its source).</summary>
public sealed record MigrationEnded(int Step, bool Completed, string? Reason = null) : StepOutcome(Step);

/// <summary>The power controller ran the command; <see cref="Error"/> is null when it succeeded.</summary>
public sealed record PowerCommandDone(int Step, string? Error = null) : StepOutcome(Step);

/// <summary>The power controller's status of the host (null with an error when it could not be read).</summary>
public sealed record PowerStatusRead(int Step, PowerState? Power, string? Error = null) : StepOutcome(Step);
