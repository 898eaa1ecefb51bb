using KvmCluster.Policies.Documents;
using KvmCluster.Policies.Model;

namespace KvmCluster.Sim.Datacenter;

/// <summary>
/// A datacenter description for the simulator (YAML or JSON). Errors carry file:line:column and field path.
/// <code>
/// name: lab
/// vmAssignment: blocks            # or round-robin: how trace VMs without a size get a VM type
/// hostTypes:
///   - name: r640
///     count: 40
///     pes: 32                     # hardware threads
///     mhzPerPe: 2600
///     memoryMiB: 393216
///     bandwidthMbps: 10000
///     cpuModels: [Skylake-Server, Cascadelake-Server]
///     hugepages2M: 65536
///     power: { watts: [110, 160, 190, 215, 240, 262, 285, 310, 335, 362, 390], standbyWatts: 9, bootSeconds: 150 }
/// vmTypes:
///   - { name: small, mhz: 2000, vcpus: 1, memoryMiB: 2048 }
///   - { name: db, mhz: 2600, vcpus: 8, memoryMiB: 65536, cpuModel: Skylake-Server, hugepages: true }
/// </code>
/// </summary>
public static class DatacenterDocument
{
    public static DatacenterSpec Load(string file)
    {
        string text;
        try { text = File.ReadAllText(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DocumentException([new DocumentError(file, 0, 0, "", e is FileNotFoundException or DirectoryNotFoundException ? "the datacenter file does not exist" : e.Message)]);
        }
        return Parse(text, file);
    }

    public static DatacenterSpec Parse(string text, string file = "<datacenter>")
    {
        var doc = new DocumentContext(file);
        var root = MapReader.Of(doc, doc.Load(text), "");
        DatacenterSpec? spec = null;
        if (root is not null)
        {
            var name = root.String("name") ?? Path.GetFileNameWithoutExtension(file);
            var assignment = root.Choice("vmAssignment", ["blocks", "round-robin"]) is 1 ? VmTypeAssignment.RoundRobin : VmTypeAssignment.Blocks;
            var hosts = root.Maps("hostTypes").Select(ReadHostType).OfType<HostType>().ToList();
            var vms = root.Maps("vmTypes").Select(ReadVmType).OfType<VmType>().ToList();
            if (!root.Has("hostTypes")) root.Missing("hostTypes");
            else if (hosts.Count == 0 && doc.Errors.Count == 0) root.Error("hostTypes", "needs at least one host type");
            if (!root.Has("vmTypes")) root.Missing("vmTypes");
            else if (vms.Count == 0 && doc.Errors.Count == 0) root.Error("vmTypes", "needs at least one VM type");
            foreach (var dup in hosts.GroupBy(h => h.Name).Where(g => g.Count() > 1)) root.Error("hostTypes", $"host type '{dup.Key}' is defined twice");
            foreach (var dup in vms.GroupBy(v => v.Name).Where(g => g.Count() > 1)) root.Error("vmTypes", $"VM type '{dup.Key}' is defined twice");
            root.RejectUnknown();
            spec = new DatacenterSpec(name, hosts, vms, assignment);
        }
        doc.ThrowIfErrors();
        return spec!;
    }

    private static HostType? ReadHostType(MapReader m)
    {
        var name = m.String("name", required: true);
        var count = m.Int("count", 1, 1_000_000, required: true);
        var pes = m.Int("pes", 1, 4096, required: true);
        var mhz = m.Double("mhzPerPe", 1, 100_000, required: true);
        var memory = m.Int("memoryMiB", 1, int.MaxValue, required: true);
        var bandwidth = m.Double("bandwidthMbps", 1, 1_000_000) ?? 10_000;
        var models = m.Strings("cpuModels");
        var hugepages = m.Int("hugepages2M", 0, int.MaxValue) ?? 0;
        var power = ReadPower(m.Map("power", required: true));
        m.RejectUnknown();
        if (name is null || count is null || pes is null || mhz is null || memory is null || power is null) return null;
        return new HostType(name, pes.Value, mhz.Value, memory.Value, (long)(bandwidth * 1000), power, count.Value)
        {
            CpuModels = models,
            Hugepages2M = hugepages,
        };
    }

    private static PowerModel? ReadPower(MapReader? m)
    {
        if (m is null) return null;
        var watts = m.Numbers("watts", 0);
        var standby = m.Double("standbyWatts", 0, 10_000) ?? 0;
        var boot = m.Double("bootSeconds", 0, 86_400) ?? 180;
        m.RejectUnknown();
        if (!m.Has("watts")) { m.Missing("watts"); return null; }
        try
        {
            return new PowerModel(watts) { StandbyWatts = standby, BootSeconds = boot };
        }
        catch (ArgumentException e)
        {
            m.Error("watts", e.Message);
            return null;
        }
    }

    private static VmType? ReadVmType(MapReader m)
    {
        var name = m.String("name", required: true);
        var mhz = m.Double("mhz", 1, 100_000, required: true);
        var vcpus = m.Int("vcpus", 1, 1024) ?? 1;
        var memory = m.Int("memoryMiB", 1, int.MaxValue, required: true);
        var bandwidth = m.Double("bandwidthMbps", 1, 1_000_000) ?? 100;
        var model = m.String("cpuModel");
        var hugepages = m.Bool("hugepages") ?? false;
        m.RejectUnknown();
        if (name is null || mhz is null || memory is null) return null;
        return new VmType(name, mhz.Value, vcpus, memory.Value, (long)(bandwidth * 1000)) { CpuModel = model, Hugepages = hugepages };
    }
}
