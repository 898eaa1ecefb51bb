namespace KvmCluster.Policies.Migration;

public enum MigrationOutcome
{
    /// <summary>Pre-copy converges within the downtime limit.</summary>
    Converges,
    /// <summary>Converges only after a raised downtime limit.</summary>
    ConvergesWithRaisedDowntime,
    /// <summary>Converges because auto-converge throttles the guest.</summary>
    ConvergesWithAutoConverge,
    /// <summary>Completes by switching to post-copy.</summary>
    CompletesWithPostCopy,
    /// <summary>Never converges with what the policy allows; the executor would cancel it.</summary>
    NeverConverges,
}

/// <summary>What the cost model predicts for one migration.</summary>
public sealed record MigrationPrediction(
    MigrationOutcome Outcome,
    double TotalSeconds,
    double DowntimeMs,
    double TransferredMiB,
    int Iterations,
    IReadOnlyList<double> IterationMiB,
    double FinalDowntimeLimitMs,
    int AutoConvergeThrottlePercent)
{
    public bool Completes => Outcome != MigrationOutcome.NeverConverges;

    public override string ToString() => Completes
        ? $"{Outcome}: {TotalSeconds:0.##} s, downtime {DowntimeMs:0} ms, {TransferredMiB:0} MiB in {Iterations} pass(es)"
        : $"{Outcome}: still {IterationMiB[^1]:0} MiB dirty per pass after {TotalSeconds:0} s (expected downtime {DowntimeMs:0} ms)";
}
