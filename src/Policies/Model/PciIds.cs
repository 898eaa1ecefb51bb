using System.Text.RegularExpressions;

namespace KvmCluster.Policies.Model;

/// <summary>Syntax of PCI identifiers; they reach QEMU's -device vfio-pci,host=… so they are checked strictly.</summary>
public static partial class PciIds
{
    [GeneratedRegex("^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$")]
    private static partial Regex VendorDeviceRegex();

    [GeneratedRegex("^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-1][0-9a-fA-F]\\.[0-7]$")]
    private static partial Regex AddressRegex();

    public static bool IsVendorDevice(string s) => VendorDeviceRegex().IsMatch(s);
    public static bool IsAddress(string s) => AddressRegex().IsMatch(s);
}
