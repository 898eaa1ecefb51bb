using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;
using KvmCluster.Policies.Model;

namespace KvmCluster.Hosting.Facts;

/// <summary>One PCI function as sysfs shows it (/sys/bus/pci/devices/ADDRESS).</summary>
public sealed record SysfsPciDevice(string Address, string VendorDevice, string Class, string? Driver, string? IommuGroup,
    int? TotalVfs, int? NumVfs, ImmutableArray<string> VirtualFunctions, string? PhysicalFunction);

/// <summary>
/// The host's PCI devices from sysfs (the handbook's lspci and /sys reading): vendor, device, class, the bound
/// driver and the IOMMU group of each; SR-IOV physical functions with sriov_totalvfs/sriov_numvfs and their virtfn*
/// links. What is assignable is the operator's choice (KvmCluster:Qemu:Passthrough: vendor:device ids or addresses,
/// and KvmCluster:Qemu:Sriov: PF address → network), and only devices in an IOMMU group (VT-d/AMD-Vi on) qualify.
/// </summary>
public static partial class PciInventory
{
    [GeneratedRegex("^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]$", RegexOptions.CultureInvariant)]
    public static partial Regex Address();

    public static IReadOnlyList<SysfsPciDevice> Read(string root = "/")
    {
        var dir = Path.Combine(root, "sys/bus/pci/devices");
        if (!Directory.Exists(dir)) return [];
        var list = new List<SysfsPciDevice>();
        foreach (var path in Directory.EnumerateFileSystemEntries(dir).Order(StringComparer.Ordinal))
        {
            var address = Path.GetFileName(path);
            if (!Address().IsMatch(address)) continue;
            var vendor = Hex(path, "vendor");
            var device = Hex(path, "device");
            if (vendor is null || device is null) continue;
            var vfs = Directory.Exists(path)
                ? Directory.EnumerateFileSystemEntries(path, "virtfn*").Select(LinkTarget).OfType<string>().Order(StringComparer.Ordinal).ToImmutableArray()
                : [];
            list.Add(new SysfsPciDevice(address, $"{vendor}:{device}", Hex(path, "class", 6) ?? "", LinkTarget(Path.Combine(path, "driver")),
                LinkTarget(Path.Combine(path, "iommu_group")), Int(path, "sriov_totalvfs"), Int(path, "sriov_numvfs"), vfs, LinkTarget(Path.Combine(path, "physfn"))));
        }
        return list;
    }

    /// <summary>
    /// What the scheduler sees: the assignable devices (marked with the guest holding each) and each configured PF with
    /// its free VFs; <paramref name="vfs"/> gets every assignable VF with its PF's network.
    /// </summary>
    public static (ImmutableArray<PciDevice> Devices, ImmutableArray<SriovFunction> Sriov) Facts(IReadOnlyList<SysfsPciDevice> all,
        IReadOnlyCollection<string> passthrough, IReadOnlyDictionary<string, string> sriov, IReadOnlyDictionary<string, string> assigned,
        List<(string Address, string Network)> vfs)
    {
        var devices = all.Where(d => d.IommuGroup is not null && d.PhysicalFunction is null && (passthrough.Contains(d.VendorDevice) || passthrough.Contains(d.Address)))
            .Select(d => new PciDevice(d.Address, d.VendorDevice, assigned.GetValueOrDefault(d.Address))).ToImmutableArray();
        var functions = new List<SriovFunction>();
        foreach (var pf in all.Where(d => sriov.ContainsKey(d.Address)))
        {
            var network = sriov[pf.Address];
            var usable = pf.VirtualFunctions.Where(v => all.Any(d => d.Address == v && d.IommuGroup is not null)).ToList();
            vfs.AddRange(usable.Select(v => (v, network)));
            functions.Add(new SriovFunction(pf.Address, network, pf.TotalVfs ?? usable.Count, usable.Count(v => !assigned.ContainsKey(v))));
        }
        return (devices, [.. functions]);
    }

    private static string? LinkTarget(string path)
    {
        try { return new FileInfo(path).LinkTarget is { } t ? Path.GetFileName(t) : null; }
        catch (IOException) { return null; }
    }

    private static string? Hex(string dir, string file, int digits = 4)
    {
        var text = ReadText(Path.Combine(dir, file))?.Trim();
        return text is { Length: > 2 } && text.StartsWith("0x", StringComparison.Ordinal) ? text[2..].ToLowerInvariant().PadLeft(digits, '0')[^digits..] : null;
    }

    private static int? Int(string dir, string file) =>
        int.TryParse(ReadText(Path.Combine(dir, file))?.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;

    private static string? ReadText(string file)
    {
        try { return File.Exists(file) ? File.ReadAllText(file) : null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
