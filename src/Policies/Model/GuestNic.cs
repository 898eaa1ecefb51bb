using System.ComponentModel;
using System.Text.RegularExpressions;

namespace KvmCluster.Policies.Model;

/// <summary>
/// A guest NIC on a named network: on each host the network is a Linux bridge (the host's settings name it), and the
/// NIC a tap device the silo puts on it. Its MAC travels with the guest: given, or derived from the guest's name, so a
/// migration or a restart never changes it (the guest's DHCP lease and the switches' tables stay right).
/// </summary>
public sealed partial record GuestNic(
    [property: Description("The network's name, as hosts report it (KvmCluster:Qemu:Networks); a host without it cannot run the guest.")] string Network,
    [property: Description("Its MAC address (unicast, e.g. 52:54:00:12:34:56); null: derived from the guest's name and the NIC's place.")] string? Mac = null,
    [property: Description("The NIC QEMU emulates: virtio (virtio-net-pci) or e1000 (for guests without virtio drivers).")] string Model = "virtio")
{
    public static readonly IReadOnlyList<string> Models = ["virtio", "e1000"];

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,31}$", RegexOptions.CultureInvariant)]
    public static partial Regex NetworkName();

    [GeneratedRegex("^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", RegexOptions.CultureInvariant)]
    private static partial Regex MacAddress();

    /// <summary>The MAC this NIC has: its own, or one derived from the guest's name (QEMU's locally administered 52:54:00 prefix).</summary>
    public string MacOf(string guest, int index) => Mac ?? Derived(guest, index.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>A MAC from a guest's name and a NIC's key (its place, or a hot-plugged device's id): stable wherever it runs.</summary>
    public static string Derived(string guest, string key)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"kvmcluster-nic:{guest}:{key}"));
        return $"52:54:00:{hash[0]:x2}:{hash[1]:x2}:{hash[2]:x2}";
    }

    public IEnumerable<(string Field, string Message)> Problems(string field)
    {
        if (Network is null || !NetworkName().IsMatch(Network))
            yield return ($"{field}.network", $"'{Network}' is not a network name: lower-case letters, digits and -, at most 32");
        if (Mac is not null)
        {
            if (!MacAddress().IsMatch(Mac)) yield return ($"{field}.mac", $"'{Mac}' is not a MAC address like 52:54:00:12:34:56 (lower-case hex)");
            else if ((Convert.ToByte(Mac[..2], 16) & 1) == 1) yield return ($"{field}.mac", $"'{Mac}' is a multicast address; a NIC needs a unicast one");
        }
        if (!Models.Contains(Model)) yield return ($"{field}.model", $"'{Model}' is not one of: {string.Join(", ", Models)}");
    }
}
