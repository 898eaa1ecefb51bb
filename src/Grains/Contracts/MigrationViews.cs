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
    [property: Id(6)] IReadOnlyList<string> Reasons);

[GenerateSerializer, Immutable, Alias("kvm.MigrationProgress")]
public sealed record MigrationProgress(
    [property: Id(0)] long TransferredMiB,
    [property: Id(1)] long RemainingMiB,
    [property: Id(2)] double DirtyMiBps,
    [property: Id(3)] int ExpectedDowntimeMs);

[GenerateSerializer, Immutable, Alias("kvm.MigrationView")]
public sealed record MigrationView(
    [property: Id(0)] string Id,
    [property: Id(1)] MigrationOrder Order,
    [property: Id(2)] MigrationStatus Status,
    [property: Id(3)] string? Reason,
    [property: Id(4)] MigrationProgress? Progress,
    [property: Id(5)] DateTimeOffset CreatedAt,
    [property: Id(6)] DateTimeOffset? EndedAt);
