using KvmCluster.Policies.Model;

namespace KvmCluster.Grains.Contracts;

/// <summary>
/// Where a guest is in its life cycle (libvirt's domain states, as operators know them). Stored by number: new states
/// go at the end.
/// </summary>
public enum GuestStatus
{
    /// <summary>Being placed and launched.</summary>
    Starting,
    Running,
    Migrating,
    /// <summary>Not running, by intent: the guest powered itself off (ACPI shutdown, poweroff) or was destroyed.</summary>
    ShutOff,
    /// <summary>A start or migration failed and nothing runs it.</summary>
    Failed,
    /// <summary>Its host's silo is dead: the guest may still run there, but nobody can reach it.</summary>
    Unreachable,
    /// <summary>Its record says it runs, but no host runs it (its QEMU died, or no copy survived a migration).</summary>
    Lost,
    /// <summary>A record with its spec, never started (or edited since).</summary>
    Defined,
    /// <summary>Its kernel panicked (the pvpanic device told QEMU) and the guest was stopped.</summary>
    Crashed,
    /// <summary>Running, but paused by an operator (QEMU's stop): it stays paused across a migration.</summary>
    Paused,
}

/// <summary>How a guest's QEMU ended when nobody asked it to: which decides the guest's state.</summary>
public enum GuestExitKind
{
    /// <summary>The guest powered itself off (QEMU's SHUTDOWN with reason guest-shutdown).</summary>
    ShutDown,
    /// <summary>The guest's kernel panicked (GUEST_PANICKED from the pvpanic device).</summary>
    Crashed,
    /// <summary>QEMU died (killed, crashed, or a QEMU a previous silo started, whose end nobody saw).</summary>
    Died,
}

[GenerateSerializer, Immutable, Alias("kvm.GuestExit")]
public sealed record GuestExit([property: Id(0)] GuestExitKind Kind, [property: Id(1)] string Why)
{
    /// <summary>The state the guest's record takes.</summary>
    public GuestStatus Status => Kind switch
    {
        GuestExitKind.ShutDown => GuestStatus.ShutOff,
        GuestExitKind.Crashed => GuestStatus.Crashed,
        _ => GuestStatus.Lost,
    };

    /// <summary>The event that tells it.</summary>
    public string EventKind => Kind switch
    {
        GuestExitKind.ShutDown => "guest-shut-off",
        GuestExitKind.Crashed => "guest-crashed",
        _ => "guest-lost",
    };
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
