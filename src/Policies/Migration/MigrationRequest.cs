namespace KvmCluster.Policies.Migration;

/// <summary>
/// Everything the cost model needs about one live migration.
/// </summary>
/// <param name="MemoryMiB">Guest RAM that holds data (zero pages are not sent).</param>
/// <param name="WorkingSetMiB">The part of RAM the guest keeps dirtying; it bounds how much each pass re-sends.</param>
/// <param name="DirtyMiBps">Rate at which the guest dirties its working set.</param>
/// <param name="BandwidthMiBps">QEMU max-bandwidth; 0 means unthrottled.</param>
/// <param name="DowntimeLimitMs">QEMU downtime-limit.</param>
/// <param name="CpuBoundDirtying">True when the guest dirties memory by burning CPU (auto-converge can slow it);
/// false for timer-paced or I/O-driven dirtying, which throttling cannot slow.</param>
/// <param name="DiskMiB">Local disk data copied before the memory (drive-mirror), at the same bandwidth cap.</param>
public sealed record MigrationRequest(
    double MemoryMiB,
    double WorkingSetMiB,
    double DirtyMiBps,
    double BandwidthMiBps,
    double DowntimeLimitMs,
    bool Hugepages = false,
    bool CpuBoundDirtying = true,
    double DiskMiB = 0);

/// <summary>Escalations the executor may use when pre-copy stalls (oVirt/Nova migration policies).</summary>
public sealed record Escalation
{
    /// <summary>Downtime limits to step through, ms, after the initial one.</summary>
    public IReadOnlyList<double> DowntimeStepsMs { get; init; } = [];
    public bool AutoConverge { get; init; }
    /// <summary>Switch to post-copy after this many seconds of pre-copy (null: never).</summary>
    public double? PostCopyAfterSeconds { get; init; }
    /// <summary>Cancel after this many seconds (the source keeps running).</summary>
    public double CancelAfterSeconds { get; init; } = 600;

    public static Escalation None { get; } = new();
}
