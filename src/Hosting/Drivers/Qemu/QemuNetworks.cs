using System.Text.RegularExpressions;
using KvmCluster.Grains.Contracts;
using KvmCluster.Hosting.Processes;
using KvmCluster.Policies.Model;
using Microsoft.Extensions.Logging;

namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>A named network on this host (KvmCluster:Qemu:Networks:NAME): the Linux bridge guests' NICs join, and a VLAN.</summary>
public sealed class NetworkOptions
{
    public string Bridge { get; set; } = "";
    /// <summary>The guests' NICs are untagged members of this VLAN on a VLAN-filtering bridge (bridge vlan add … pvid untagged).</summary>
    public int? Vlan { get; set; }
}

/// <summary>
/// Guests' NICs on named networks, as the handbook's bridged guests (-net tap on br0): the silo makes a tap device per
/// NIC with iproute2 (argv, never a shell), puts it on the network's bridge, gives it to QEMU by name, and removes it
/// when the guest's QEMU has gone. A network is this host's only if its bridge exists: the kernel says so in
/// /sys/class/net/BRIDGE/bridge.
/// </summary>
public sealed partial class QemuNetworks(IReadOnlyDictionary<string, NetworkOptions> networks, ILogger log, string ip = "ip", string sysfs = "/sys/class/net")
{
    private static readonly TimeSpan IpTimeout = TimeSpan.FromSeconds(10);

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,15}$", RegexOptions.CultureInvariant)]
    private static partial Regex InterfaceName();

    /// <summary>The configured networks whose bridge is here, sorted; each one that is not, and why, in <paramref name="problems"/>.</summary>
    public IReadOnlyList<string> Discover(List<string> problems)
    {
        var here = new List<string>();
        foreach (var (name, n) in networks.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!GuestNic.NetworkName().IsMatch(name)) { problems.Add($"network '{name}': not a network name (lower-case letters, digits and -)"); continue; }
            if (!InterfaceName().IsMatch(n.Bridge)) { problems.Add($"network '{name}': bridge '{n.Bridge}' is not an interface name"); continue; }
            if (n.Vlan is < 1 or > 4094) { problems.Add($"network '{name}': VLAN {n.Vlan} is not 1..4094"); continue; }
            if (!System.IO.Directory.Exists(Path.Combine(sysfs, n.Bridge, "bridge"))) { problems.Add($"network '{name}': there is no bridge {n.Bridge} on this host"); continue; }
            here.Add(name);
        }
        return here;
    }

    /// <summary>The tap device of a guest's NIC on this host: at most 15 characters, and different on every host.</summary>
    public static string TapName(string host, string guest, int index)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{host}/{guest}"));
        return $"kv{Convert.ToHexStringLower(hash)[..10]}{index}";
    }

    /// <summary>The tap device of a hot-plugged NIC (named by its device id) on this host.</summary>
    public static string TapName(string host, string guest, string device)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{host}/{guest}/{device}"));
        return $"kh{Convert.ToHexStringLower(hash)[..12]}";
    }

    /// <summary>Makes the guest's tap devices (its NICs' and its hot-plugged NICs'), each on its network's bridge; on any failure none is left.</summary>
    public async Task CreateAsync(string host, Guest guest, CancellationToken cancellationToken)
    {
        var taps = guest.Networks.Select((nic, i) => (nic.Network, Tap: TapName(host, guest.Name, i), Field: $"networks[{i}].network"))
            .Concat(guest.Devices.Where(d => d.Network is not null).Select(d => (Network: d.Network!, Tap: TapName(host, guest.Name, d.Id), Field: "devices")));
        foreach (var (network, tap, field) in taps.ToList())
        {
            try { await CreateTapAsync(network, tap, host, field, cancellationToken); }
            catch
            {
                await DeleteAsync(host, guest);
                throw;
            }
        }
    }

    /// <summary>One tap device on a network's bridge (a hot-plugged NIC's, or one of a launch's).</summary>
    public async Task CreateTapAsync(string network, string tap, string host, string field, CancellationToken cancellationToken)
    {
        if (!networks.TryGetValue(network, out var n)) throw ClusterException.Invalid($"network '{network}' is not configured on {host}", field);
        await Ip(["link", "del", tap], cancellationToken, mayFail: true); // a previous QEMU's leftover
        try
        {
            await Ip(["tuntap", "add", "dev", tap, "mode", "tap"], cancellationToken);
            await Ip(["link", "set", "dev", tap, "master", n.Bridge], cancellationToken);
            if (n.Vlan is { } vlan)
            {
                await Run("bridge", ["vlan", "add", "dev", tap, "vid", vlan.ToString(System.Globalization.CultureInfo.InvariantCulture), "pvid", "untagged"], cancellationToken);
                await Run("bridge", ["vlan", "del", "dev", tap, "vid", "1"], cancellationToken, mayFail: true);
            }
            await Ip(["link", "set", "dev", tap, "up"], cancellationToken);
        }
        catch
        {
            await DeleteTapAsync(tap);
            throw;
        }
    }

    /// <summary>Removes the guest's tap devices (its QEMU has gone, or never started).</summary>
    public async Task DeleteAsync(string host, Guest guest)
    {
        for (var i = 0; i < guest.Networks.Length; i++)
            await Ip(["link", "del", TapName(host, guest.Name, i)], CancellationToken.None, mayFail: true);
        foreach (var d in guest.Devices.Where(d => d.Network is not null))
            await DeleteTapAsync(TapName(host, guest.Name, d.Id));
    }

    public Task DeleteTapAsync(string tap) => Ip(["link", "del", tap], CancellationToken.None, mayFail: true);

    private Task Ip(IReadOnlyList<string> args, CancellationToken cancellationToken, bool mayFail = false) => Run(ip, args, cancellationToken, mayFail);

    private async Task Run(string program, IReadOnlyList<string> args, CancellationToken cancellationToken, bool mayFail = false)
    {
        ProcessResult r;
        try { r = await ProcessRunner.RunAsync(program, args, IpTimeout, cancellationToken); }
        catch (System.ComponentModel.Win32Exception e) { throw ClusterException.Unavailable($"{program} cannot run here ({e.Message}): install iproute2"); }
        if (r.ExitCode == 0 || mayFail) return;
        log.LogWarning("{Program} {Args}: {Error}", program, string.Join(' ', args), r.Error.Trim());
        throw ClusterException.Conflict($"{program} {string.Join(' ', args)} failed: {r.Error.Trim()}");
    }
}
