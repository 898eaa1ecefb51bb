using KvmCluster.Policies.Migration;

namespace KvmCluster.Sim.Engine;

/// <summary>How the simulation runs.</summary>
public sealed record SimOptions
{
    /// <summary>
    /// Replicate CloudSim's model exactly: 0 W for idle hosts, no boot time, RAM/(BW/2) migrations, RAM held only
    /// while a VM is being created, VMs that request 0 MIPS destroyed. Otherwise the native model: idle and
    /// standby power, boot time, the migration cost model, RAM always held, idle VMs stay.
    /// </summary>
    public bool CloudSimCompat { get; init; } = true;

    /// <summary>The model the choice above gives: every rule where the two differ is asked of it.</summary>
    public Models.ISimModel Model => CloudSimCompat ? Models.CloudSimModel.Instance : Models.NativeModel.Instance;
    /// <summary>Seconds between datacenter updates and decisions.</summary>
    public double Interval { get; init; } = 300;
    /// <summary>When the workload starts (CloudSim: 0.1 s, when the VM creations are acknowledged).</summary>
    public double StartOffset { get; init; } = 0.1;
    /// <summary>Simulated seconds; events at or after this instant are not processed.</summary>
    public double Limit { get; init; } = 86_400;
    /// <summary>
    /// Native mode: the rate a guest dirties memory, in MiB/s per fully busy vCPU (traces do not record it);
    /// it feeds the migration cost model.
    /// </summary>
    public double DirtyMiBpsPerBusyVcpu { get; init; } = 40;
    /// <summary>
    /// Run the adaptive family as the live cluster does: through the planner (its balancer on fleet snapshots with
    /// sampled usage, the plan builder's waves, transient safety and cost-model refusals, the plan executor) rather
    /// than CloudSim's optimiser straight on the datacenter. Implied by a replay through the cluster.
    /// </summary>
    public bool LivePlanner { get; init; }

    /// <summary>Native mode: the migration network a host type's bandwidth gives (pre-copy at ~92 % of line rate).</summary>
    public static MigrationLink LinkFor(long bwKbps)
    {
        var mibps = bwKbps * 1000.0 / 8 / 1024 / 1024 * 0.92;
        return new MigrationLink { ThroughputMiBps = mibps, ContentionMiBps = 2 * mibps, SetupMs = 50 };
    }
}
