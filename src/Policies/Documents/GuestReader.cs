using System.Collections.Immutable;
using KvmCluster.Policies.Model;
using YamlDotNet.RepresentationModel;

namespace KvmCluster.Policies.Documents;

/// <summary>Reads one guest of a fleet document.</summary>
internal static class GuestReader
{
    public static Guest? Read(MapReader m)
    {
        var name = m.String("name", required: true);
        if (name is not null && GuestName.Problem(name) is { } problem) m.Error("name", problem);
        var uuidText = m.String("uuid");
        var uuid = Guid.Empty;
        if (uuidText is not null && !Guid.TryParse(uuidText, out uuid)) m.Error("uuid", $"'{uuidText}' is not a UUID");
        var vcpus = m.Int("vcpus", 1, 4096, required: true);
        var memory = m.Long("memoryMiB", 1, ModelLimits.MaxMemoryMiB, required: true);
        var cpu = ReadCpu(m);
        var pci = m.Strings("pci");
        var (vfs, network) = ReadSriov(m.Map("sriov"));
        var host = m.String("host");
        if (host is not null && GuestName.Problem(host) is not null) m.Error("host", $"host name '{host}' must match {GuestName.Pattern}");
        var guest = new Guest
        {
            Name = name is not null && GuestName.IsValid(name) ? name : "invalid",
            Uuid = uuid,
            VCpus = vcpus ?? 1,
            MemoryMiB = memory ?? 1,
            Cpu = cpu ?? GuestCpu.Named("qemu64"),
            Is64Bit = m.Bool("is64Bit") ?? true,
            RequiresNx = m.Bool("requiresNx") ?? true,
            HugepageSizeKiB = FleetDocument.ReadPageSize(m, "hugepages"),
            BalloonTargetMiB = m.Long("balloonTargetMiB", 1),
            PciDevices = [.. pci.Select(p => p.ToLowerInvariant())],
            SriovVfs = vfs,
            SriovNetwork = network,
            Disks = ReadDisks(m),
            Labels = m.StringMap("labels").ToImmutableSortedDictionary(StringComparer.Ordinal),
            Affinity = ReadAffinity(m),
            Host = host,
            Usage = ReadUsage(m.Map("usage")),
        };
        m.RejectUnknown();
        foreach (var (field, message) in guest.Problems()) m.Error(YamlField(field), message);
        return name is null || vcpus is null || memory is null ? null : guest;
    }

    /// <summary>The model's (the API's) name of a field as a fleet document spells its key.</summary>
    private static string YamlField(string field) => field.Split('.', '[')[0] switch
    {
        "vCpus" => "vcpus",
        "hugepageSizeKiB" => "hugepages",
        "sriovVfs" => "sriov",
        "pciDevices" => "pci",
        var f => f,
    };

    /// <summary>Either the QEMU spelling ("host", "Skylake-Server,+vmx,-hle") or {mode, model, flags}.</summary>
    private static GuestCpu? ReadCpu(MapReader m)
    {
        var node = m.Raw("cpu");
        if (node is null) return null;
        if (node is YamlScalarNode { Value: { } text })
            return ParseQemuCpu(text, e => m.Error("cpu", e));
        var c = MapReader.Of(m.Doc, node, m.Child("cpu"));
        if (c is null) return null;
        var mode = c.Choice("mode", ["host-passthrough", "custom"]) ?? 1;
        var model = c.String("model");
        var flags = ImmutableArray.CreateBuilder<CpuFlagChange>();
        foreach (var f in c.Strings("flags"))
        {
            try { flags.Add(CpuFlagChange.Parse(f)); }
            catch (FormatException e) { c.Error("flags", e.Message); }
        }
        c.RejectUnknown();
        return new GuestCpu((CpuMode)mode, model, flags.ToImmutable());
    }

    internal static GuestCpu? ParseQemuCpu(string text, Action<string> error)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts[0] == "host")
        {
            if (parts.Length > 1) error("flags cannot be changed in host-passthrough mode");
            return GuestCpu.Host;
        }
        if (!IsModelName(parts[0])) { error($"'{parts[0]}' is not a CPU model name"); return null; }
        var flags = ImmutableArray.CreateBuilder<CpuFlagChange>();
        foreach (var p in parts.Skip(1))
        {
            try { flags.Add(CpuFlagChange.Parse(p)); }
            catch (FormatException e) { error(e.Message); return null; }
        }
        return new GuestCpu(CpuMode.Custom, parts[0], flags.ToImmutable());
    }

    private static bool IsModelName(string s) =>
        s.Length is > 0 and <= 64 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static (int Vfs, string? Network) ReadSriov(MapReader? m)
    {
        if (m is null) return (0, null);
        var r = (m.Int("vfs", 0, 256) ?? 0, m.String("network"));
        m.RejectUnknown();
        return r;
    }

    private static ImmutableArray<GuestDisk> ReadDisks(MapReader guest)
    {
        var disks = ImmutableArray.CreateBuilder<GuestDisk>();
        foreach (var d in guest.Maps("disks"))
        {
            GuestDisk? disk = null;
            if (d.Has("shared")) disk = new GuestDisk(DiskKind.Shared, MountPath: d.String("shared"), Export: d.String("export"), Image: d.String("image"));
            else if (d.Has("overlay")) disk = new GuestDisk(DiskKind.Overlay, Image: d.String("overlay"), SizeGiB: d.Long("sizeGiB", 0) ?? 0, UsedMiB: d.Long("usedMiB", 0) ?? 0);
            else if (d.Has("local")) disk = new GuestDisk(DiskKind.Local, SizeGiB: d.Long("local", 1) ?? 1, UsedMiB: d.Long("usedMiB", 0) ?? 0);
            else d.Doc.Error(d.Node, d.Path, "a disk needs one of: shared (mount path), overlay (backing image), local (size in GiB)");
            if (disk is { Kind: DiskKind.Shared, MountPath: { } mp } && !mp.StartsWith('/'))
                d.Error("shared", $"mount path '{mp}' must be absolute");
            if (disk is { Kind: DiskKind.Shared, MountPath: { } m, Image: { } image } && !image.StartsWith(m.TrimEnd('/') + "/", StringComparison.Ordinal))
                d.Error("image", $"image '{image}' is not under the disk's mount {m}");
            d.RejectUnknown();
            if (disk is not null) disks.Add(disk);
        }
        return disks.ToImmutable();
    }

    private static ImmutableArray<AffinityRule> ReadAffinity(MapReader guest)
    {
        var rules = ImmutableArray.CreateBuilder<AffinityRule>();
        string[] kinds = ["host", "notHost", "guest", "notGuest"];
        foreach (var r in guest.Maps("affinity"))
        {
            var present = kinds.Where(r.Has).ToList();
            if (present.Count != 1)
            {
                r.Doc.Error(r.Node, r.Path, "a rule needs exactly one of: host, notHost, guest, notGuest (each a label selector key=value)");
                r.RejectUnknown();
                continue;
            }
            var kind = present[0];
            var selector = r.String(kind)!;
            var hard = r.Bool("hard") ?? true;
            var weight = r.Double("weight", 0, 1000) ?? 1;
            foreach (var k in kinds) r.Raw(k);
            r.RejectUnknown();
            var eq = selector.IndexOf('=');
            if (eq <= 0 || eq == selector.Length - 1) { r.Error(kind, $"'{selector}' is not a label selector key=value"); continue; }
            rules.Add(new AffinityRule(kind is "host" or "notHost" ? AffinityScope.Host : AffinityScope.Guest,
                selector[..eq], selector[(eq + 1)..], Anti: kind.StartsWith("not"), hard, weight));
        }
        return rules.ToImmutable();
    }

    private static UsageHistory ReadUsage(MapReader? m)
    {
        if (m is null) return UsageHistory.Empty;
        var u = new UsageHistory(m.Numbers("cpuMhz", 0), m.Numbers("memoryMiB", 0), m.Numbers("dirtyMiBps", 0));
        m.RejectUnknown();
        return u;
    }
}
