namespace KvmCluster.Policies.Migration;

/// <summary>
/// What the path between two hypervisors can do, as calibrated from measured migrations: the throughput of
/// an unthrottled migration of an idle guest, how much an actively dirtying guest slows that down (its vCPU
/// and dirty logging compete with the migration thread), how much faster hugepage-backed RAM is sent,
/// and a fixed setup cost. Bandwidth limits (QEMU max-bandwidth) come from the policy, not from here.
/// </summary>
public sealed record MigrationLink
{
    /// <summary>Unthrottled throughput for an idle guest, MiB/s.</summary>
    public required double ThroughputMiBps { get; init; }
    /// <summary>
    /// Dirty rate at which throughput halves: throughput / (1 + (dirty / this)²). Small dirty rates barely
    /// matter; a guest dirtying at this rate competes with the migration thread as hard as it sends.
    /// </summary>
    public double ContentionMiBps { get; init; } = double.PositiveInfinity;
    /// <summary>Throughput multiplier for hugetlbfs-backed guest RAM.</summary>
    public double HugepageSpeedup { get; init; } = 1;
    /// <summary>Connection setup and device-state transfer, ms.</summary>
    public double SetupMs { get; init; }

    /// <summary>A 10 GbE migration network between KVM hosts (about 1,100 MiB/s of payload).</summary>
    public static MigrationLink TenGigabit { get; } = new() { ThroughputMiBps = 1100, ContentionMiBps = 2000, SetupMs = 50 };

    /// <summary>
    /// QEMU 7.2 under TCG over loopback on this project's 2-core machine kind. Calibrated on three rows of the
    /// measured table in qemu-on-this-machine.md (128 MiB idle → throughput; 128 MiB at 50 MiB/s unthrottled →
    /// contention; hugetlbfs row → hugepage speedup) and checked against all rows in the tests.
    /// </summary>
    public static MigrationLink TcgLoopback { get; } = new() { ThroughputMiBps = 400, ContentionMiBps = 50, HugepageSpeedup = 2.7, SetupMs = 0 };

    /// <summary>Throughput with the guest dirtying memory at <paramref name="dirtyMiBps"/>.</summary>
    public double EffectiveMiBps(double dirtyMiBps, bool hugepages) =>
        ThroughputMiBps * (hugepages ? HugepageSpeedup : 1) / (1 + Math.Pow(Math.Max(0, dirtyMiBps) / ContentionMiBps, 2));
}
