using KvmCluster.Policies.Model;
using Orleans.Concurrency;

namespace KvmCluster.Grains.Contracts;

/// <summary>One per cluster (key <see cref="Cluster.Key"/>): the fleet snapshot, the active policy's plans, placements.</summary>
[Alias("kvm.ISchedulerGrain")]
public interface ISchedulerGrain : IGrainWithStringKey
{
    /// <summary>One-way: a host must never wait on the scheduler (the scheduler may be waiting on that host).</summary>
    [OneWay, Alias("ReportHost")] Task ReportHost(HostReport report);
    [Alias("Hosts")] Task<IReadOnlyList<HostView>> Hosts();
    /// <summary>The name of the silo the scheduler runs on now (it moves when that silo goes).</summary>
    [Alias("Silo"), Orleans.Concurrency.AlwaysInterleave] Task<string> Silo();
    [Alias("Guests")] Task<IReadOnlyList<GuestView>> Guests();
    [Alias("Snapshot")] Task<FleetSnapshot> Snapshot();
    /// <summary>Places a new guest with the active policy and launches it on the chosen host.</summary>
    [Alias("Place")] Task<PlacementView> Place(Guest guest);
    /// <summary>Defines a guest (a record with its spec, not running), or replaces a stopped guest's spec (edit).</summary>
    [Alias("DefineGuest")] Task<GuestView> DefineGuest(Guest spec);
    /// <summary>
    /// Starts a defined or stopped guest: placed by the active policy, or on <paramref name="host"/> if that host
    /// passes every constraint. A guest with local disks starts where they are unless a host is given.
    /// </summary>
    [Alias("StartGuest")] Task<PlacementView> StartGuest(string name, string? host);
    /// <summary>Kills a running guest's QEMU (virsh destroy): the record says shut off.</summary>
    [Alias("DestroyGuest")] Task<GuestView> DestroyGuest(string name);
    /// <summary>Removes a guest's record (refused while it runs); with <paramref name="removeDisks"/> its own images too.</summary>
    [Alias("UndefineGuest")] Task<GuestView> UndefineGuest(string name, bool removeDisks);
    /// <summary>A planning round now: the plan is kept as RECOMMENDED and never executed by this call (a preview).</summary>
    [Alias("Preview")] Task<PlanView> Preview();
    [Alias("Plans")] Task<IReadOnlyList<PlanView>> Plans();
    [Alias("Plan")] Task<PlanView> Plan(string id);
    [Alias("Approve")] Task<PlanView> Approve(string id);
    [Alias("Execute")] Task<PlanView> Execute(string id);
    [Alias("CancelPlan")] Task<PlanView> CancelPlan(string id);
    /// <summary>
    /// Migrates one guest, to the given host or to where the active policy places it, within the policy's concurrency
    /// limits (<paramref name="force"/> goes past them, on record).
    /// </summary>
    [Alias("Migrate")] Task<MigrationView> Migrate(string guest, string? to, bool force);
    /// <summary>
    /// Cold migration (the handbook's static migration): the guest is paused, its memory and non-shared disks are
    /// copied to <paramref name="to"/> whatever the policy says of live block migration, and it runs there (paused
    /// if it was). The source copy goes only once the destination holds everything; a failure resumes the source.
    /// </summary>
    [Alias("MigrateOffline")] Task<MigrationView> MigrateOffline(string guest, string to);
    /// <summary>One-way, for the same reason: a migration may end inside the scheduler's own call that started it.</summary>
    [OneWay, Alias("MigrationEnded")] Task MigrationEnded(MigrationView migration);
    [Alias("SetMaintenance")] Task<HostView> SetMaintenance(string host, bool on);
    [Alias("SetLabels")] Task<HostView> SetLabels(string host, LabelChange change);
    /// <summary>The cluster's CPU baseline, what every host offers, and the hosts that cannot run it.</summary>
    [Alias("Baseline")] Task<BaselineView> Baseline();
    /// <summary>The baseline grain says the setting changed.</summary>
    [OneWay, Alias("BaselineChanged")] Task BaselineChanged();
    /// <summary>The policy grain says another policy (or version) became active.</summary>
    [OneWay, Alias("PolicyChanged")] Task PolicyChanged();
    /// <summary>The fleet's state in one document, read in one turn of this grain (see <see cref="FleetStateDocument"/>).</summary>
    [Alias("ExportState")] Task<FleetStateDocument> ExportState();
    /// <summary>
    /// Restores an exported document into a cluster without policies, plans or tokens (409 otherwise): guest records
    /// replace the ones hosts' reports made meanwhile, and reconciliation then settles where each guest runs.
    /// </summary>
    [Alias("ImportState")] Task<StateImported> ImportState(FleetStateDocument document);
}

public static class Cluster
{
    /// <summary>The key of the cluster-wide singletons (scheduler, policies, events).</summary>
    public const string Key = "cluster";
}
