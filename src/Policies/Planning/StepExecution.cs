namespace KvmCluster.Policies.Planning;

public enum StepStatus
{
    Pending,
    Running,
    Completed,
    Failed,
}

/// <summary>What a running step waits for.</summary>
public enum StepPhase
{
    None,
    /// <summary>Its migration runs (its migration grain, or the simulator, reports the end).</summary>
    Migrating,
    /// <summary>The power controller was told; its answer is awaited.</summary>
    Commanded,
    /// <summary>Powered on: waiting for the booted host to report as on.</summary>
    Booting,
    /// <summary>A power-off waiting for its host to report that no guest runs there any more.</summary>
    AwaitingEmpty,
    /// <summary>Powered off: waiting for the power controller's status to say off (or standby).</summary>
    ConfirmingOff,
}

/// <summary>Where one step of an executing plan stands. <see cref="Since"/> is when its phase began.</summary>
public sealed record StepExecution(int Step, StepStatus Status = StepStatus.Pending, StepPhase Phase = StepPhase.None)
{
    public DateTimeOffset? Since { get; init; }
    /// <summary>A command of this step was issued and its outcome has not been recorded yet.</summary>
    public bool Outstanding { get; init; }
    /// <summary>When the power controller's status was last asked for (confirming a power-off).</summary>
    public DateTimeOffset? PolledAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    /// <summary>Why it failed, or what it last found.</summary>
    public string? Detail { get; init; }
}
