using KvmCluster.Sim.Cli;
using KvmCluster.Sim.Datacenter;
using KvmCluster.Sim.Traces;

namespace KvmCluster.Sim.Engine;

/// <summary>
/// Gives each trace VM its size: a VM type the trace names, else the datacenter's assignment (CloudSim's
/// blocks for PlanetLab); then whatever the trace itself says (cores, MHz, memory) overrides the type.
/// </summary>
public static class VmFactory
{
    public static SimVm[] Create(DatacenterSpec spec, IReadOnlyList<VmWorkload> workloads)
    {
        var vms = new SimVm[workloads.Count];
        for (var i = 0; i < vms.Length; i++)
        {
            var w = workloads[i];
            VmType type;
            if (w.Type is { } named)
                type = spec.VmTypes.FirstOrDefault(t => t.Name == named)
                       ?? throw new UsageException($"trace VM {w.Name} asks for VM type '{named}', which datacenter '{spec.Name}' does not define (it has: {string.Join(", ", spec.VmTypes.Select(t => t.Name))})");
            else type = spec.VmTypeFor(i, vms.Length);
            var pes = w.Cores ?? type.Pes;
            var mipsPerPe = w.CapacityMhz is { } mhz ? mhz / pes : type.Mips;
            var ram = w.MemoryMiB ?? type.RamMiB;
            vms[i] = new SimVm(i, w.Name, mipsPerPe, pes, ram, type.BwKbps, w)
            {
                Hugepages2M = type.Hugepages ? (ram + 1) / 2 : 0,
                CpuModel = type.CpuModel,
            };
        }
        return vms;
    }
}
