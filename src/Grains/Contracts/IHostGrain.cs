using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Model;
using Orleans.Concurrency;

namespace KvmCluster.Grains.Contracts;

/// <summary>One hypervisor, keyed by its name and pinned to the silo running on it.</summary>
[Alias("kvm.IHostGrain")]
public interface IHostGrain : IGrainWithStringKey
{
    /// <summary>Re-reads facts and inventory from the hypervisor and pushes a report to the scheduler.</summary>
    [Alias("Refresh")] Task<HostReport> Refresh();
    /// <summary>Takes a usage sample of every guest now (the sample timer does; kvmsim's replays call it at trace time) and reports.</summary>
    [Alias("Sample")] Task<HostReport> Sample();
    /// <summary>Sets and removes host labels (persisted; they win over the silo's configured labels).</summary>
    [Alias("SetLabels")] Task<HostReport> SetLabels(LabelChange change);
    /// <summary>The usage history this host keeps for a guest (handed to the destination of its migration).</summary>
    [Alias("UsageOf")] Task<UsageHistory> UsageOf(string guest);
    /// <summary>A migration of the guest measured this dirty rate (it did not converge): the planner prices it by that from now on.</summary>
    [Alias("GuestDirtied")] Task GuestDirtied(string guest, double dirtyMiBps);
    [Alias("Silo"), AlwaysInterleave] Task<string> Silo();
    /// <summary>Starts the guest here; returns its spec as it runs (its machine type pinned).</summary>
    [Alias("Launch")] Task<Guest> Launch(Guest guest);
    [Alias("Stop")] Task Stop(string guest);
    /// <summary>Deletes the images this host keeps of a guest that does not run here (local and overlay disks).</summary>
    [Alias("RemoveDisks")] Task RemoveDisks(Guest guest);
    [Alias("Control")] Task<GuestControlResult> Control(string guest, GuestControl control);
    /// <summary>
    /// Takes the guest's console for a session (one writer at a time: 409 while another session's lease lives); returns
    /// the offset its output starts from (what the guest wrote lately is kept, so the session sees the last screen).
    /// </summary>
    [Alias("ConsoleAttach")] Task<long> ConsoleAttach(string guest, string session, string actor);
    /// <summary>What the guest wrote from an offset on; renews the session's lease.</summary>
    [Alias("ConsoleRead"), AlwaysInterleave] Task<ConsoleOutput> ConsoleRead(string guest, string session, long from);
    [Alias("ConsoleWrite"), AlwaysInterleave] Task ConsoleWrite(string guest, string session, byte[] data);
    [Alias("ConsoleDetach"), AlwaysInterleave] Task ConsoleDetach(string guest, string session);
    /// <summary>The end of the guest's serial log here, or null.</summary>
    [Alias("SerialLog"), AlwaysInterleave] Task<string?> SerialLog(string guest, int maxBytes);
    /// <summary>An HMP command for what the verbs do not cover (QMP human-monitor-command): its output, recorded in the event log.</summary>
    [Alias("Monitor")] Task<string> Monitor(string guest, string command, string actor);
    /// <summary>Prepares an incoming guest (the destination side of a migration); returns where to send it.</summary>
    [Alias("PrepareIncoming")] Task<string> PrepareIncoming(Guest guest, MigrationOrder order, string migration);
    [Alias("MigrateOut")] Task MigrateOut(string guest, string endpoint, MigrationOrder order, string migration);
    [Alias("CancelOutgoing")] Task CancelOutgoing(string guest);
    [Alias("AdjustOutgoing")] Task AdjustOutgoing(string guest, MigrationAdjustment adjustment);
    /// <summary>Whether this host is sending the guest right now.</summary>
    [Alias("IsSending")] Task<bool> IsSending(string guest);
    /// <summary>The source side's facts for the migration grain's decision (answers even while the grain is busy).</summary>
    [Alias("OutgoingState"), AlwaysInterleave] Task<SourceFact> OutgoingState(string guest);
    /// <summary>The destination side's facts for the migration grain's decision.</summary>
    [Alias("IncomingState"), AlwaysInterleave] Task<DestinationFact> IncomingState(string guest);
    /// <summary>Why a guest's QEMU here exited on its own (null when it did not), for the event log.</summary>
    [Alias("ExitOf"), AlwaysInterleave] Task<GuestExit?> ExitOf(string guest);
    /// <summary>Post-copy was decided: the incoming copy runs as soon as the source switches.</summary>
    [Alias("AllowIncomingToRun")] Task AllowIncomingToRun(string guest, string migration);
    /// <summary>The destination takes ownership: the guest runs here from now on, with the usage history it had.</summary>
    [Alias("CommitIncoming")] Task CommitIncoming(string guest, string migration, UsageHistory history);
    [Alias("AbortIncoming")] Task AbortIncoming(string guest, string migration);
    /// <summary>The source lets go of a guest that now runs on the destination.</summary>
    [Alias("ReleaseOutgoing")] Task ReleaseOutgoing(string guest, string migration);
    /// <summary>The source resumes a guest whose migration failed or was cancelled.</summary>
    [Alias("ResumeOutgoing")] Task ResumeOutgoing(string guest, string migration);
    [Alias("SetMaintenance")] Task SetMaintenance(bool on);
    /// <summary>Hugepage pool and KSM settings; returns the report with the new facts.</summary>
    [Alias("Tune")] Task<HostReport> Tune(HostTuning tuning);
    /// <summary>What operators set here through the API (for `kvmcluster state export`).</summary>
    [Alias("Settings"), AlwaysInterleave] Task<HostSettings> Settings();
}

[Alias("kvm.IGuestGrain")]
public interface IGuestGrain : IGrainWithStringKey
{
    [Alias("Get")] Task<GuestView?> Get();
    /// <summary>A record with its spec, not running; an existing record is replaced only while its guest does not run.</summary>
    [Alias("Define")] Task<GuestView> Define(Guest spec);
    /// <summary>Removes the record (refused while the guest runs); returns what it was.</summary>
    [Alias("Undefine")] Task<GuestView> Undefine();
    /// <summary>Defined and running on <c>spec.Host</c> (a placement: one write).</summary>
    [Alias("Placed")] Task<GuestView> Placed(Guest spec);
    [Alias("Locate")] Task<GuestView> Locate(string? host, GuestStatus status, string? migration);
    [Alias("History")] Task<IReadOnlyList<EventRecord>> History();
    /// <summary>The whole record (null when there is none), for `kvmcluster state export`.</summary>
    [Alias("Export"), AlwaysInterleave] Task<GuestRecord?> Export();
    /// <summary>Replaces the record with an exported one (`kvmcluster state import`); the hosts' reports then settle where it runs.</summary>
    [Alias("Restore")] Task<GuestView> Restore(GuestRecord record);
}

/// <summary>A bucket of the guest directory (see GuestDirectory): name → where the record says it runs.</summary>
[Alias("kvm.IGuestDirectoryGrain")]
public interface IGuestDirectoryGrain : IGrainWithStringKey
{
    /// <summary>Records (or, with null, removes) a guest's entry; returns once it is stored.</summary>
    [Alias("Set")] Task Set(string name, GuestEntry? entry);
    [Alias("All"), AlwaysInterleave] Task<IReadOnlyDictionary<string, GuestEntry>> All();
    /// <summary>Whether a guest of this name has a record (asked before a read touches its guest grain).</summary>
    [Alias("Has"), AlwaysInterleave] Task<bool> Has(string name);
}

[Alias("kvm.IMigrationGrain")]
public interface IMigrationGrain : IGrainWithStringKey
{
    /// <summary>Starts the migration (idempotent: a second call with the same order returns the first's view).</summary>
    [Alias("Start")] Task<MigrationView> Start(MigrationOrder order, Guest guest);
    /// <summary>
    /// Answers at once, even while the grain is busy (a read of its state). Completed shows once the guest record and
    /// the scheduler know where the guest is: until then it says Switching.
    /// </summary>
    [Alias("Get"), AlwaysInterleave] Task<MigrationView?> Get();
    [Alias("Cancel")] Task<MigrationView> Cancel();
    [Alias("Report")] Task Report(MigrationProgress progress);
    /// <summary>The source host's transfer finished: <paramref name="failure"/> is null on success. A hint: the grain
    /// decides from both hosts' facts, so a lost call delays the outcome, never changes it.</summary>
    [Alias("TransferEnded")] Task TransferEnded(string? failure);
    /// <summary>A restarted host found a QEMU of this migration: keep it, resume it or discard it.</summary>
    [Alias("Adopted")] Task<AdoptionVerdict> Adopted(string host, bool isSource);
}

[Alias("kvm.IPolicyGrain")]
public interface IPolicyGrain : IGrainWithStringKey
{
    [Alias("Submit")] Task<PolicyVersionView> Submit(string text, string source);
    [Alias("List")] Task<IReadOnlyList<PolicyVersionView>> List();
    [Alias("Show")] Task<IReadOnlyList<PolicyVersionView>> Show(string name);
    [Alias("Activate")] Task<PolicyVersionView> Activate(string name, int? version);
    [Alias("Active")] Task<PolicyVersionView?> Active();
    /// <summary>How many usage samples at this interval the active policy reads (what host grains keep per guest).</summary>
    [Alias("UsageWindow"), AlwaysInterleave] Task<int> UsageWindow(double sampleSeconds);
    /// <summary>Every version and the active one (for `kvmcluster state export`).</summary>
    [Alias("Export")] Task<(IReadOnlyList<PolicyRecord> Versions, ActivePolicyRecord? Active)> Export();
    /// <summary>Restores exported versions into a store that has none (409 otherwise); each is parsed again.</summary>
    [Alias("Import")] Task<int> Import(IReadOnlyList<PolicyRecord> versions, ActivePolicyRecord? active);
}

[Alias("kvm.IEventLogGrain")]
public interface IEventLogGrain : IGrainWithStringKey
{
    [Alias("Append")] Task Append(IReadOnlyList<EventRecord> events);
    /// <summary>Newest last; <paramref name="subject"/> filters by guest or host name.</summary>
    [Alias("Query")] Task<IReadOnlyList<EventRecord>> Query(string? subject, string? kind, int limit);
    /// <summary>As <see cref="Query(string?, string?, int)"/>, also filtered by the actor of audit events.</summary>
    [Alias("QueryActor")] Task<IReadOnlyList<EventRecord>> Query(string? subject, string? kind, string? actor, int limit);
    /// <summary>Puts exported events before the ones recorded since (numbered again, in order; the cap still holds).</summary>
    [Alias("Import")] Task<int> Import(IReadOnlyList<EventRecord> events);
}
