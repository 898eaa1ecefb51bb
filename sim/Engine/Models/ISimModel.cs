using KvmCluster.Policies.Rules;

namespace KvmCluster.Sim.Engine.Models;

/// <summary>
/// The physics a simulation runs on, chosen once (<see cref="SimOptions.Model"/>): CloudSim 4.0's, replicated exactly
/// so the figures match its published ones (<see cref="CloudSimModel"/>), or KvmCluster's own (<see cref="NativeModel"/>).
/// Every place the two differ asks this object, by the rule's name, never a flag.
/// </summary>
public interface ISimModel
{
    /// <summary>What the reports call it.</summary>
    string Description { get; }

    /// <summary>Reported as <c>cloudSimCompat</c> (the figures are comparable with CloudSim's).</summary>
    bool IsCloudSim { get; }

    // ---- guests' life cycle ----

    /// <summary>Every guest is created at the start, whatever its trace's arrival; none departs.</summary>
    bool AllGuestsAtStart { get; }

    /// <summary>A guest whose request is 0 MIPS after an update is destroyed for good (CloudSim's getCompletedVms).</summary>
    bool RemovesIdleGuests { get; }

    // ---- the update rule ----

    /// <summary>
    /// Every event (an arrival, a departure, a migration's end) settles the hosts it touches, and a guest runs as
    /// soon as it is created on a running host; otherwise the datacenter is updated as a whole at each interval and
    /// once more when migrations end.
    /// </summary>
    bool SettlesEachEvent { get; }

    /// <summary>A decision's trial placements are undone on every host (CloudSim's save/restoreAllocation), not only on the hosts they touched.</summary>
    bool UndoesWholeDatacenter { get; }

    /// <summary>Large runs may update hosts on every core (the update's order does not change its outcome).</summary>
    bool ParallelUpdates { get; }

    // ---- the memory rule ----

    /// <summary>A guest holds its RAM and bandwidth only while it is being created (CloudSim); otherwise always.</summary>
    bool HoldsMemoryOnlyWhileCreating { get; }

    // ---- migration time ----

    /// <summary>A migration's duration when the model fixes it (CloudSim: RAM / (BW / 2)); null: the migration cost model predicts it.</summary>
    double? FixedMigrationSeconds(SimVm vm, SimHost target);

    // ---- power accounting ----

    /// <summary>Hosts have power states: empty ones are powered off, boot before they take guests, and draw standby or idle power meanwhile.</summary>
    bool HasPowerStates { get; }

    /// <summary>Each host integrates its own energy at its updates (otherwise the datacenter sums every interval).</summary>
    bool HostsIntegrateOwnEnergy { get; }

    /// <summary>A host without load draws nothing (CloudSim); otherwise it draws its idle power P(0).</summary>
    bool IdleCostsNothing { get; }

    // ---- consolidation (the adaptive family) ----

    /// <summary>Underloaded hosts one round may empty, or null for no limit.</summary>
    int? ConsolidationLimit(AdaptiveSettings settings);

    /// <summary>Whether a round empties underloaded hosts at all.</summary>
    bool Consolidates(AdaptiveSettings settings);
}
