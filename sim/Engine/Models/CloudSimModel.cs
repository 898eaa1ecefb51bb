using KvmCluster.Policies.Rules;

namespace KvmCluster.Sim.Engine.Models;

/// <summary>
/// CloudSim 4.0's power-aware datacenter as Beloglazov &amp; Buyya's experiments run it (PowerDatacenter,
/// PowerHostUtilizationHistory, PowerVmAllocationPolicyMigrationAbstract): 0 W for a host without load, no boot time,
/// RAM/(BW/2) migrations, RAM held only while a VM is being created, VMs that request 0 MIPS destroyed.
/// </summary>
public sealed class CloudSimModel : ISimModel
{
    public static CloudSimModel Instance { get; } = new();

    private CloudSimModel() { }

    public string Description => "CloudSim-compatible";
    public bool IsCloudSim => true;
    public bool AllGuestsAtStart => true;
    public bool RemovesIdleGuests => true;
    public bool SettlesEachEvent => false;
    public bool UndoesWholeDatacenter => true;
    public bool ParallelUpdates => false;
    public bool HoldsMemoryOnlyWhileCreating => true;

    // getMaximumVmMigrationTime's rule: RAM in MB over half the target's bandwidth in MB/s.
    public double? FixedMigrationSeconds(SimVm vm, SimHost target) => vm.Ram / (target.Type.BwKbps / (2 * 8000.0));

    public bool HasPowerStates => false;
    public bool HostsIntegrateOwnEnergy => false;
    public bool IdleCostsNothing => true;
    public int? ConsolidationLimit(AdaptiveSettings settings) => null;
    public bool Consolidates(AdaptiveSettings settings) => true;
}
