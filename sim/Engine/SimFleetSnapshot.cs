using System.Collections.Immutable;
using KvmCluster.Policies.Model;

namespace KvmCluster.Sim.Engine;

/// <summary>
/// The simulated datacenter as the live planner sees a fleet: hosts with their CPU (threads × MHz), QEMU CPU
/// models, memory, 2 MiB hugepages and power state; guests with their size and the usage history sampled from them. Hosts
/// are named <c>h00000…</c> and guests <c>vm-0…</c> (trace names need not be valid guest names); the index is
/// the number in the name.
/// </summary>
public static class SimFleetSnapshot
{
    private static readonly ImmutableSortedSet<string> Flags = ImmutableSortedSet.Create(StringComparer.Ordinal, "lm", "nx", "vmx");
    private static readonly ImmutableSortedSet<string> AnyModel = ImmutableSortedSet.Create(StringComparer.Ordinal, "qemu64");

    public static string HostName(int h) => $"h{h:D5}";
    public static string GuestName(int v) => $"vm-{v}";
    public static int HostIndex(string name) => int.Parse(name.AsSpan(1));
    public static int VmIndex(string name) => int.Parse(name.AsSpan(3));

    /// <param name="usage">Each VM's usage history (the simulator's own book, sampled as host agents sample).</param>
    public static FleetSnapshot Build(SimDatacenter dc, double interval, Func<int, UsageHistory> usage)
    {
        var hosts = new Host[dc.Hosts.Length];
        for (var h = 0; h < hosts.Length; h++) hosts[h] = Host(dc, h);
        var guests = new List<Guest>(dc.Vms.Length);
        foreach (var vm in dc.Vms)
        {
            if (vm.Host < 0 || vm.Gone) continue;
            guests.Add(Guest(vm, HostName(vm.Host), usage(vm.Id)));
        }
        // In the order a cluster's snapshot has them (host by host, each host's guests by name, as hosts report them),
        // so that ties between equal guests break the same way live and simulated.
        guests.Sort((a, b) => string.CompareOrdinal(a.Host, b.Host) is var byHost && byHost != 0 ? byHost : string.CompareOrdinal(a.Name, b.Name));
        return new FleetSnapshot(hosts, guests) { SampleIntervalSeconds = interval };
    }

    /// <summary>
    /// What a host agent would measure of the VM now: its CPU demand (MHz), its memory (traces do not record resident
    /// memory: all of it) and its dirty rate (traces do not record it either: <paramref name="dirtyMiBpsPerBusyVcpu"/>
    /// per busy vCPU, the rate the native model's migrations assume).
    /// </summary>
    public static UsageSample Sample(SimVm vm, double now, double dirtyMiBpsPerBusyVcpu)
    {
        var mips = vm.MipsAt(now);
        return new UsageSample(mips, vm.Ram, mips / (vm.Mips / vm.Pes) * dirtyMiBpsPerBusyVcpu);
    }

    /// <summary>The host record for host <paramref name="h"/> as it is now (power state, free hugepages).</summary>
    public static Host Host(SimDatacenter dc, int h)
    {
        var sh = dc.Hosts[h];
        var t = sh.Type;
        return new Host
        {
            Name = HostName(h),
            Cpu = new HostCpu
            {
                Vendor = "GenuineIntel",
                ModelName = t.Name,
                Flags = Flags,
                QemuModels = t.CpuModels.Count > 0 ? t.CpuModels.ToImmutableSortedSet(StringComparer.Ordinal).Add("qemu64") : AnyModel,
                Cores = t.Pes,
                Threads = t.Pes,
                MhzPerThread = t.MipsPerPe,
            },
            MemoryMiB = t.RamMiB,
            Hugepages = t.Hugepages2M > 0 ? [new HugepagePool(HugepagePool.Size2M, t.Hugepages2M, sh.HugepagesFree)] : [],
            Power = sh.Power == HostPower.Off ? PowerState.Standby : PowerState.On,
            PowerModel = t.Power,
        };
    }

    /// <summary>The guest record for a VM (on <paramref name="host"/>, or unplaced when null) with its usage history.</summary>
    public static Guest Guest(SimVm vm, string? host, UsageHistory? usage = null) => new()
    {
        Name = GuestName(vm.Id),
        VCpus = vm.Pes,
        MemoryMiB = vm.Ram,
        Cpu = GuestCpu.Named(vm.CpuModel ?? "qemu64"),
        HugepageSizeKiB = vm.Hugepages2M > 0 ? HugepagePool.Size2M : null,
        Host = host,
        Usage = usage ?? UsageHistory.Empty,
    };
}
