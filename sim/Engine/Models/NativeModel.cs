using KvmCluster.Policies.Rules;

namespace KvmCluster.Sim.Engine.Models;

/// <summary>
/// KvmCluster's own model: idle and standby power, boot time, the migration cost model (pre-copy rounds, dirty rate,
/// downtime escalation), RAM always held, idle guests stay, guests arrive and depart as their trace says, and the
/// policy's consolidation limits hold.
/// </summary>
public sealed class NativeModel : ISimModel
{
    public static NativeModel Instance { get; } = new();

    private NativeModel() { }

    public string Description => "native (idle power, boot time, migration cost model)";
    public bool IsCloudSim => false;
    public bool AllGuestsAtStart => false;
    public bool RemovesIdleGuests => false;
    public bool SettlesEachEvent => true;
    public bool UndoesWholeDatacenter => false;
    public bool ParallelUpdates => true;
    public bool HoldsMemoryOnlyWhileCreating => false;
    public double? FixedMigrationSeconds(SimVm vm, SimHost target) => null;
    public bool HasPowerStates => true;
    public bool HostsIntegrateOwnEnergy => true;
    public bool IdleCostsNothing => false;
    public int? ConsolidationLimit(AdaptiveSettings settings) => settings.MaxConsolidationsPerRound <= 0 ? null : settings.MaxConsolidationsPerRound;
    public bool Consolidates(AdaptiveSettings settings) => settings.ConsolidateUnderloaded;
}
