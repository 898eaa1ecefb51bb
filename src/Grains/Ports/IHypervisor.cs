using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Model;

namespace KvmCluster.Grains.Ports;

/// <summary>
/// What a host grain needs from the hypervisor it runs on. The silo provides QEMU (over QMP) or a simulated
/// hypervisor; the grain never sees QMP, /proc or sockets. A migration's data flows between the two drivers
/// directly (QEMU to QEMU), never through grains.
/// </summary>
public interface IHypervisor
{
    /// <summary>"qemu" or "simulated".</summary>
    string Kind { get; }

    /// <summary>The host's static facts; a problem when the driver cannot run guests here (no QEMU, no KVM).</summary>
    Task<(Host Facts, string? Problem)> DiscoverAsync(CancellationToken cancellationToken);

    /// <summary>The guests running here now (their specs; usage comes from <see cref="SampleAsync"/>).</summary>
    Task<IReadOnlyList<Guest>> InventoryAsync(CancellationToken cancellationToken);

    /// <summary>
    /// One usage sample of every guest running here: its mean CPU since the previous sample, its resident memory and
    /// its memory dirty rate. The host grain calls this once per sample interval and keeps the history.
    /// </summary>
    Task<IReadOnlyDictionary<string, UsageSample>> SampleAsync(CancellationToken cancellationToken);

    /// <summary>Starts the guest; returns its spec as it runs here (its machine type pinned at the first launch).</summary>
    Task<Guest> LaunchAsync(Guest guest, CancellationToken cancellationToken);
    Task StopAsync(string guest, CancellationToken cancellationToken);
    /// <summary>Deletes this host's images of a guest's local and overlay disks (the guest does not run here).</summary>
    Task RemoveDisksAsync(Guest guest, CancellationToken cancellationToken);

    /// <summary>Starts a paused incoming copy of the guest; returns the endpoint the source sends to.</summary>
    Task<string> PrepareIncomingAsync(Guest guest, MigrationOrder order, CancellationToken cancellationToken);

    /// <summary>
    /// Sends a running guest to an incoming endpoint; returns when the destination has all of it (the source is
    /// paused then), throws if the transfer fails (the source keeps running).
    /// </summary>
    Task MigrateAsync(string guest, string endpoint, MigrationOrder order, Func<MigrationProgress, Task> progress, CancellationToken cancellationToken);

    /// <summary>Host memory settings: the hugepage pool of a size, KSM.</summary>
    Task TuneAsync(HostTuning tuning, CancellationToken cancellationToken);

    /// <summary>An HMP command on a running guest's monitor (QMP human-monitor-command); returns its output.</summary>
    Task<string> MonitorAsync(string guest, string command, CancellationToken cancellationToken);

    /// <summary>What the guest wrote to its serial console from offset <paramref name="from"/> on (attaching the console if needed).</summary>
    Task<ConsoleOutput> ConsoleReadAsync(string guest, long from, CancellationToken cancellationToken);
    /// <summary>Types into the guest's serial console.</summary>
    Task ConsoleWriteAsync(string guest, byte[] data, CancellationToken cancellationToken);
    /// <summary>The end of the guest's serial log on this host (at most <paramref name="maxBytes"/>), or null when it has none here.</summary>
    Task<string?> SerialLogAsync(string guest, int maxBytes, CancellationToken cancellationToken);

    /// <summary>An operation on a running guest.</summary>
    Task<GuestControlResult> ControlAsync(string guest, GuestControl control, CancellationToken cancellationToken);

    /// <summary>Changes a running outgoing migration (the escalation schedule's steps).</summary>
    Task AdjustMigrationAsync(string guest, MigrationAdjustment adjustment, CancellationToken cancellationToken);

    /// <summary>
    /// Runs the completely received incoming guest (waiting until it is whole) and returns once it runs. The incoming
    /// copy never runs before this (or <see cref="AllowIncomingToRunAsync"/>): its QEMU starts paused.
    /// </summary>
    Task CommitIncomingAsync(string guest, CancellationToken cancellationToken);
    /// <summary>Post-copy: the incoming copy runs as soon as the source switches (QEMU's cont while it still receives).</summary>
    Task AllowIncomingToRunAsync(string guest, CancellationToken cancellationToken);
    /// <summary>What the source side of a migration says (QEMU's query-migrate and run state).</summary>
    Task<SourceFact> OutgoingStateAsync(string guest, CancellationToken cancellationToken);
    /// <summary>What the destination side says of its incoming copy.</summary>
    Task<DestinationFact> IncomingStateAsync(string guest, CancellationToken cancellationToken);
    /// <summary>
    /// QEMUs this driver found mid-migration when it started (a previous silo's): each with its migration and side.
    /// They are kept as they are (paused stays paused) until the host grain settles them with their migration grain.
    /// </summary>
    IReadOnlyList<AdoptedMigration> AdoptedMigrations();
    /// <summary>How the guest's QEMU on this host ended when nobody asked it to: powered off, panicked or died, and why.</summary>
    GuestExit? ExitOf(string guest);
    /// <summary>Follows an outgoing transfer a previous silo started and QEMU still runs, to its end (as MigrateAsync does).</summary>
    Task WatchOutgoingAsync(string guest, MigrationOrder order, Func<MigrationProgress, Task> progress, CancellationToken cancellationToken);
    /// <summary>Discards an incoming guest (failed or cancelled migration).</summary>
    Task AbortIncomingAsync(string guest, CancellationToken cancellationToken);
    /// <summary>Destroys the paused source copy after the destination took over.</summary>
    Task ReleaseOutgoingAsync(string guest, CancellationToken cancellationToken);
    /// <summary>Resumes the source copy after a failed or cancelled migration.</summary>
    Task ResumeOutgoingAsync(string guest, CancellationToken cancellationToken);
    /// <summary>
    /// Stops an outgoing transfer nobody on this silo follows any more (its sender failed, or a previous silo started
    /// it): the source keeps the guest, paused or not as it is. Never resumes it — only a decided failure does.
    /// </summary>
    Task CancelTransferAsync(string guest, CancellationToken cancellationToken);
}

/// <summary>A QEMU found mid-migration by a restarted driver: the migration it belongs to, and which side it is.</summary>
public sealed record AdoptedMigration(string Guest, string MigrationId, bool IsSource, MigrationOrder? Order);
