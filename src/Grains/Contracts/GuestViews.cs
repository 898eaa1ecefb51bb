using KvmCluster.Policies.Model;

namespace KvmCluster.Grains.Contracts;

public enum GuestStatus
{
    Pending,
    Running,
    Migrating,
    Stopped,
    Failed,
    /// <summary>Its host's silo is dead: the guest may still run there, but nobody can reach it.</summary>
    Unreachable,
    /// <summary>Its record says it runs, but no host runs it (found by reconciliation, or no copy survived a migration).</summary>
    Lost,
}

[GenerateSerializer, Immutable, Alias("kvm.GuestView")]
public sealed record GuestView(
    [property: Id(0)] string Name,
    [property: Id(1)] Guest Spec,
    [property: Id(2)] string? Host,
    [property: Id(3)] GuestStatus Status,
    [property: Id(4)] DateTimeOffset UpdatedAt,
    [property: Id(5)] string? Migration);

/// <summary>Where a new guest went and why (or why nowhere).</summary>
[GenerateSerializer, Immutable, Alias("kvm.PlacementView")]
public sealed record PlacementView(
    [property: Id(0)] string Guest,
    [property: Id(1)] string? Host,
    [property: Id(2)] double Score,
    [property: Id(3)] IReadOnlyList<string> Reasons);

/// <summary>A guest's line in the guest directory: where its record says it runs, and since when.</summary>
[GenerateSerializer, Immutable, Alias("kvm.GuestEntry")]
public sealed record GuestEntry(
    [property: Id(0)] string? Host,
    [property: Id(1)] GuestStatus Status,
    [property: Id(2)] DateTimeOffset UpdatedAt);
