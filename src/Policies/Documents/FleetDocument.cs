using System.Collections.Immutable;
using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Documents;

/// <summary>
/// Reads a fleet snapshot document (YAML or JSON): hosts with what KVM exposes, guests with what they need.
/// Used for scenario tests, samples and offline planning. Errors carry file:line:column and field path.
/// </summary>
public static class FleetDocument
{
    public static FleetSnapshot Parse(string text, string file = "<fleet>")
    {
        var doc = new DocumentContext(file);
        var root = MapReader.Of(doc, doc.Load(text), "");
        FleetSnapshot? fleet = null;
        if (root is not null)
        {
            var interval = root.Double("sampleIntervalSeconds", 1, 86_400) ?? 300;
            var hosts = new List<Host>();
            foreach (var m in root.Maps("hosts"))
                if (ReadHost(m) is { } h) hosts.Add(h);
            var guests = new List<Guest>();
            foreach (var m in root.Maps("guests"))
                if (GuestReader.Read(m) is { } g) guests.Add(g);
            root.RejectUnknown();
            fleet = new FleetSnapshot(hosts, guests) { SampleIntervalSeconds = interval };
            foreach (var problem in fleet.Problems()) doc.Error(root.Node, "", problem);
        }
        doc.ThrowIfErrors();
        return fleet!;
    }

    private static Host? ReadHost(MapReader m)
    {
        var name = m.String("name", required: true);
        if (name is not null && GuestName.Problem(name) is not null)
            m.Error("name", $"host name '{name}' must match {GuestName.Pattern}");
        var cpu = ReadCpu(m.Map("cpu", required: true));
        var memory = m.Long("memoryMiB", 1, long.MaxValue, required: true);
        var host = new Host
        {
            Name = name ?? "invalid",
            Cpu = cpu ?? new HostCpu { Vendor = "", ModelName = "" },
            MemoryMiB = memory ?? 0,
            ReservedMemoryMiB = m.Long("reservedMemoryMiB", 0) ?? 0,
            Hugepages = ReadPools(m),
            Ksm = ReadKsm(m.Map("ksm")),
            Power = m.Choice("power", ["on", "standby", "off"]) is { } p ? (PowerState)p : PowerState.On,
            Maintenance = m.Bool("maintenance") ?? false,
            PciDevices = ReadPci(m),
            Sriov = ReadSriov(m),
            Storage = ReadStorage(m.Map("storage")),
            Labels = m.StringMap("labels").ToImmutableSortedDictionary(StringComparer.Ordinal),
            PowerModel = ReadPowerModel(m.Map("powerModel")),
        };
        m.RejectUnknown();
        if (host.GeneralMemoryMiB <= 0 && memory is not null)
            m.Error("hugepages", $"hugepage pools and reserved memory take all {memory} MiB of the host");
        return name is null || cpu is null || memory is null ? null : host;
    }

    private static HostCpu? ReadCpu(MapReader? m)
    {
        if (m is null) return null;
        var cpu = new HostCpu
        {
            Vendor = m.String("vendor", required: true) ?? "",
            ModelName = m.String("model", required: true) ?? "",
            Flags = m.Strings("flags").ToImmutableSortedSet(StringComparer.Ordinal),
            QemuModels = m.Strings("qemuModels").ToImmutableSortedSet(StringComparer.Ordinal),
            NestedEnabled = m.Bool("nested") ?? false,
            Sockets = m.Int("sockets", 1, 64) ?? 1,
            Cores = m.Int("cores", 1, 4096) ?? 1,
            Threads = m.Int("threads", 1, 8192, required: true) ?? 1,
            MhzPerThread = m.Double("mhzPerThread", 1, 100_000) ?? 1000,
        };
        m.RejectUnknown();
        return cpu;
    }

    private static ImmutableArray<HugepagePool> ReadPools(MapReader host)
    {
        var pools = ImmutableArray.CreateBuilder<HugepagePool>();
        foreach (var m in host.Maps("hugepages"))
        {
            var size = ReadPageSize(m, "size", required: true);
            var total = m.Int("total", 0, int.MaxValue, required: true);
            var free = m.Int("free", 0, int.MaxValue, required: true);
            var reserved = m.Int("reserved", 0, int.MaxValue) ?? 0;
            m.RejectUnknown();
            if (size is null || total is null || free is null) continue;
            if (free > total) { m.Error("free", $"{free} free pages exceed the {total} total"); continue; }
            if (pools.Any(p => p.PageSizeKiB == size)) { m.Error("size", $"a {HugepagePool.DescribeSize(size.Value)} pool is listed twice"); continue; }
            pools.Add(new HugepagePool(size.Value, total.Value, free.Value, reserved));
        }
        return pools.ToImmutable();
    }

    /// <summary>Hugepage sizes are written 2M / 2MiB / 1G / 1GiB (or a number of KiB).</summary>
    internal static int? ReadPageSize(MapReader m, string key, bool required = false)
    {
        var s = m.String(key, required);
        if (s is null) return null;
        int? kib = s.Trim() switch
        {
            "2M" or "2MiB" or "2MB" or "2048" => HugepagePool.Size2M,
            "1G" or "1GiB" or "1GB" or "1048576" => HugepagePool.Size1G,
            _ => null,
        };
        if (kib is null) m.Error(key, $"hugepage size '{s}' is not 2M or 1G");
        return kib;
    }

    private static KsmState ReadKsm(MapReader? m)
    {
        if (m is null) return KsmState.Off;
        var k = new KsmState(m.Bool("enabled") ?? false, m.Long("pagesSharing", 0) ?? 0);
        m.RejectUnknown();
        return k;
    }

    private static ImmutableArray<PciDevice> ReadPci(MapReader host)
    {
        var list = ImmutableArray.CreateBuilder<PciDevice>();
        foreach (var m in host.Maps("pci"))
        {
            var address = m.String("address", required: true);
            var id = m.String("id", required: true);
            var owner = m.String("assignedTo");
            m.RejectUnknown();
            if (id is not null && !PciIds.IsVendorDevice(id)) m.Error("id", $"'{id}' is not a vendor:device id like 10de:1db6");
            if (address is not null && !PciIds.IsAddress(address)) m.Error("address", $"'{address}' is not a PCI address like 0000:3b:00.0");
            if (address is not null && id is not null) list.Add(new PciDevice(address, id.ToLowerInvariant(), owner));
        }
        return list.ToImmutable();
    }

    private static ImmutableArray<SriovFunction> ReadSriov(MapReader host)
    {
        var list = ImmutableArray.CreateBuilder<SriovFunction>();
        foreach (var m in host.Maps("sriov"))
        {
            var pf = m.String("pf", required: true);
            var network = m.String("network") ?? "default";
            var total = m.Int("totalVfs", 0, 4096, required: true);
            var free = m.Int("freeVfs", 0, 4096, required: true);
            m.RejectUnknown();
            if (free > total) m.Error("freeVfs", $"{free} free VFs exceed the {total} total");
            else if (pf is not null && total is not null && free is not null) list.Add(new SriovFunction(pf, network, total.Value, free.Value));
        }
        return list.ToImmutable();
    }

    private static HostStorage ReadStorage(MapReader? m)
    {
        if (m is null) return HostStorage.None;
        var s = new HostStorage
        {
            Mounts = m.StringMap("mounts").ToImmutableSortedDictionary(StringComparer.Ordinal),
            BackingImages = m.Strings("images").ToImmutableSortedSet(StringComparer.Ordinal),
            LocalFreeGiB = m.Long("localFreeGiB", 0) ?? 0,
        };
        m.RejectUnknown();
        return s;
    }

    private static PowerModel? ReadPowerModel(MapReader? m)
    {
        if (m is null) return null;
        var preset = m.Choice("preset", ["hp-ml110-g4", "hp-ml110-g5"]);
        var watts = m.Numbers("watts", 0);
        var standby = m.Double("standbyWatts", 0, 100_000) ?? 0;
        var boot = m.Double("bootSeconds", 0, 3600) ?? 180;
        m.RejectUnknown();
        try
        {
            var model = preset switch
            {
                0 => PowerModel.HpMl110G4,
                1 => PowerModel.HpMl110G5,
                _ when watts.Length > 0 => new PowerModel(watts),
                _ => null,
            };
            if (model is null) { m.Doc.Error(m.Node, m.Path, "needs either preset or watts"); return null; }
            return model with { StandbyWatts = standby, BootSeconds = boot };
        }
        catch (ArgumentException e)
        {
            m.Error("watts", e.Message);
            return null;
        }
    }
}
