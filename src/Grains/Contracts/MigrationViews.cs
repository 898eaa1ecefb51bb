namespace KvmCluster.Grains.Contracts;

/// <summary>Reserved → Migrating → Completed | Failed | Cancelled. Failed and Cancelled leave the guest on its source.</summary>
public enum MigrationStatus
{
    Created,
    Reserved,
    Migrating,
    Switching,
    Completed,
    Failed,
    Cancelled,
}

/// <summary>What to migrate and how (from the plan's migration settings).</summary>
[GenerateSerializer, Immutable, Alias("kvm.MigrationOrder")]
public sealed record MigrationOrder(
    [property: Id(0)] string Guest,
    [property: Id(1)] string From,
    [property: Id(2)] string To,
    [property: Id(3)] string? Plan,
    [property: Id(4)] double BandwidthMiBps,
    [property: Id(5)] int DowntimeMs,
    [property: Id(6)] IReadOnlyList<string> Reasons)
{
    /// <summary>The escalation schedule's ceiling for the downtime limit.</summary>
    [Id(7)] public int MaxDowntimeMs { get; init; }
    [Id(8)] public bool AutoConverge { get; init; }
    [Id(9)] public bool PostCopy { get; init; }

    public static MigrationOrder For(KvmCluster.Policies.Policy.MigrationSettings m, string guest, string from, string to, string? plan, IReadOnlyList<string> reasons) =>
        new(guest, from, to, plan, m.BandwidthMiBps, m.DowntimeMs, reasons)
        {
            MaxDowntimeMs = Math.Max(m.DowntimeMs, m.MaxDowntimeMs),
            AutoConverge = m.AllowAutoConverge,
            PostCopy = m.AllowPostCopy,
        };

    public KvmCluster.Policies.Policy.MigrationSettings Settings => new()
    {
        BandwidthMiBps = BandwidthMiBps, DowntimeMs = DowntimeMs, MaxDowntimeMs = Math.Max(DowntimeMs, MaxDowntimeMs),
        AllowAutoConverge = AutoConverge, AllowPostCopy = PostCopy,
    };
}

/// <summary>A change to a running migration: a new downtime limit, or the switch to post-copy.</summary>
[GenerateSerializer, Immutable, Alias("kvm.MigrationAdjustment")]
public sealed record MigrationAdjustment(
    [property: Id(0)] int? DowntimeMs,
    [property: Id(1)] bool StartPostCopy);

[GenerateSerializer, Immutable, Alias("kvm.MigrationProgress")]
public sealed record MigrationProgress(
    [property: Id(0)] long TransferredMiB,
    [property: Id(1)] long RemainingMiB,
    [property: Id(2)] double DirtyMiBps,
    [property: Id(3)] int ExpectedDowntimeMs)
{
    /// <summary>Still copying the guest's local disks (its memory follows): not a stalled memory transfer.</summary>
    [Id(4)] public bool CopyingDisks { get; init; }
}

[GenerateSerializer, Immutable, Alias("kvm.MigrationView")]
public sealed record MigrationView(
    [property: Id(0)] string Id,
    [property: Id(1)] MigrationOrder Order,
    [property: Id(2)] MigrationStatus Status,
    [property: Id(3)] string? Reason,
    [property: Id(4)] MigrationProgress? Progress,
    [property: Id(5)] DateTimeOffset CreatedAt,
    [property: Id(6)] DateTimeOffset? EndedAt);
