using KvmCluster.Policies.Model;

namespace KvmCluster.Grains.Contracts;

/// <summary>
/// Created → Reserved → Migrating → Switching → Completed, or → Failing → Failed | Cancelled (the guest stays on its
/// source), or Migrating → PostCopy → Switching (the destination owns the guest from the post-copy switch). See
/// docs/migration-protocol.md for who owns the guest in each.
/// </summary>
public enum MigrationStatus
{
    Created,
    Reserved,
    Migrating,
    Switching,
    Completed,
    Failed,
    Cancelled,
    PostCopy,
    Failing,
}

/// <summary>
/// What to migrate and how: the policy's migration settings for this guest, whole (bandwidth cap, downtime limits,
/// auto-converge, post-copy — already without post-copy for a guest whose disks are copied), and the time limit the
/// core computed. Drivers and the migration grain apply these and decide nothing of their own.
/// </summary>
[GenerateSerializer, Immutable, Alias("kvm.MigrationOrder")]
public sealed record MigrationOrder(
    [property: Id(0)] string Guest,
    [property: Id(1)] string From,
    [property: Id(2)] string To,
    [property: Id(3)] string? Plan,
    [property: Id(4)] KvmCluster.Policies.Rules.MigrationSettings Settings,
    [property: Id(5)] double DeadlineSeconds,
    [property: Id(6)] IReadOnlyList<string> Reasons)
{
    /// <summary>An operator overrode the policy's concurrency limits for this one (recorded in its reasons).</summary>
    [Id(7)] public bool Forced { get; init; }
    /// <summary>The migration (its grain's key): hosts keep it beside a guest they migrate, to settle it after a restart.</summary>
    [Id(8)] public string? Id { get; init; }
    /// <summary>
    /// Offline (cold): the guest was paused for the whole move (memory and non-shared disks copied while nothing
    /// changes), and runs again on the destination once it holds everything; <see cref="ResumeAfter"/> says whether
    /// it ran before.
    /// </summary>
    [Id(9)] public bool Offline { get; init; }
    [Id(10)] public bool ResumeAfter { get; init; }

    public double BandwidthMiBps => Settings.BandwidthMiBps;
    public int DowntimeMs => Settings.DowntimeMs;
    public bool AutoConverge => Settings.AllowAutoConverge;
    public bool PostCopy => Settings.AllowPostCopy;

    /// <summary>The order for moving <paramref name="guest"/> (on its current host) to <paramref name="to"/> under the policy.</summary>
    public static MigrationOrder For(KvmCluster.Policies.Rules.MigrationSettings policy, Guest guest, string to, string? plan, IReadOnlyList<string> reasons) =>
        new(guest.Name, guest.Host ?? throw new ArgumentException($"guest {guest.Name} is not placed"), to, plan, policy.For(guest),
            KvmCluster.Policies.Migration.MigrationPlanning.DeadlineSeconds(guest, policy), reasons);
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
