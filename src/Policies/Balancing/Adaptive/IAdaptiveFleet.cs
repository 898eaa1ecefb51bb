namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>
/// The port the adaptive (CloudSim) heuristics run against. The live planner implements it over a fleet
/// snapshot; the simulator implements it over its own datacenter model (CloudSim-exact in compatibility
/// mode). Hosts and VMs are dense indexes. "MIPS" is CloudSim's word for CPU capacity (MHz here).
/// During one optimisation the heuristics create and destroy VMs tentatively; <see cref="SaveAllocation"/>
/// and <see cref="RestoreAllocation"/> bracket that.
/// </summary>
public interface IAdaptiveFleet
{
    int HostCount { get; }
    /// <summary>Pricing and suitability may be asked from several threads at once (nothing is cached on read).</summary>
    bool SafeForConcurrentReads => false;

    double HostTotalMips(int host);
    /// <summary>CPU in use as measured at the last update (CloudSim: it does not change within a decision).</summary>
    double HostUtilizationMips(int host);
    /// <summary>Watts at a utilisation; false when the utilisation is outside 0..1 (CloudSim throws there).</summary>
    bool TryPower(int host, double utilization, out double watts)
    {
        watts = 0;
        if (utilization < 0 || utilization > 1) return false;
        watts = HostPowerModel(host).At(utilization);
        return true;
    }
    /// <summary>
    /// What the host draws now, given its measured utilisation: by default the power table; a fleet with power
    /// states answers standby watts for a host that is off, so waking it is priced at its full cost and PABFD
    /// picks it only when no running host fits.
    /// </summary>
    bool TryPowerNow(int host, double utilization, out double watts) => TryPower(host, utilization, out watts);
    /// <summary>Longest migration time, in seconds, of the VMs now on the host (LR's prediction horizon).</summary>
    double MaxVmMigrationSeconds(int host);
    /// <summary>How long <paramref name="vm"/> would take to migrate with <paramref name="host"/>'s network.</summary>
    double VmMigrationSeconds(int host, int vm);
    /// <summary>
    /// Hosts in the same class (≥ 0) are interchangeable right now — same type, empty, same power state — so
    /// PABFD need only look at the first of them; −1 for a host unlike any other. It only saves work: the
    /// first of equals is the one PABFD picks anyway (it takes a later host only if strictly better).
    /// </summary>
    int InterchangeableClass(int host) => -1;
    /// <summary>
    /// A fleet that already knows the host's newest utilisation samples (the first <paramref name="window"/>.Length
    /// of what <see cref="HostHistory.Fill"/> would give) may hand them over instead of their being summed VM by
    /// VM, in the same order; false means "not known". It is the host as it is: an extra VM is added by the caller.
    /// </summary>
    bool TryHostWindow(int host, Span<double> window, out bool longEnough) { longEnough = false; return false; }
    /// <summary>VMs on the host now, including tentative ones, in the host's order.</summary>
    IReadOnlyList<int> VmsOn(int host);
    /// <summary>Whether the host could take the VM now (capacity, and in the live fleet every mandatory constraint).</summary>
    bool IsSuitable(int host, int vm);
    bool Create(int host, int vm);
    void Destroy(int host, int vm);
    bool IsMigratingIn(int host, int vm);
    /// <summary>
    /// CPU allocated on the host right now, tentative placements of this decision included, with a VM that is
    /// migrating in counted at its full request (CloudSim's getUtilizationOfCpuMips: its 10 % allocation
    /// × 0.9 / 0.1 on top). PABFD prices a placement from this, not from the measured use.
    /// </summary>
    double HostAllocatedMips(int host) => AllocatedMips[host];
    /// <summary><see cref="HostAllocatedMips"/> for every host at once, kept current as VMs are placed.</summary>
    ReadOnlySpan<double> AllocatedMips { get; }
    /// <summary>The host's power table, for pricing a placement (its utilisation after it, in 0..1).</summary>
    Model.PowerModel HostPowerModel(int host);

    bool InMigration(int vm);
    /// <summary>
    /// VMs with the same shape make the same demands of a host (CPU request, memory, devices…), so one host
    /// suits either both or neither. The default treats every VM as its own shape.
    /// </summary>
    int VmShape(int vm) => -1 - vm;
    double VmMips(int vm);
    double VmRam(int vm);
    /// <summary>CPU the VM requests now.</summary>
    double VmRequestedMips(int vm);
    /// <summary>CPU the VM uses now, by which VMs to migrate are sorted (largest first).</summary>
    double VmCurrentMips(int vm);
    /// <summary>CPU utilisation history as fractions of <see cref="VmMips"/>, newest first (at most 30).</summary>
    ReadOnlySpan<double> VmHistory(int vm);

    void SaveAllocation();
    void RestoreAllocation();
}

/// <summary>One decision of the heuristics: move a VM from a host (overloaded or being emptied) to another.</summary>
public readonly record struct AdaptiveMove(int Vm, int From, int Host, AdaptiveReason Reason);

public enum AdaptiveReason
{
    /// <summary>The VM leaves an overloaded host.</summary>
    Overload,
    /// <summary>The VM leaves an under-used host that is being emptied.</summary>
    Consolidation,
}
