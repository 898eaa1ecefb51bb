using System.Net;
using System.Text.RegularExpressions;
using KvmCluster.Grains.Ports;
using KvmCluster.Policies.Model;

namespace KvmCluster.Hosting.Power;

/// <summary>What power controllers share: host-name and BMC checks, and reading a status line.</summary>
public static partial class PowerStatus
{
    public static string ValidHost(string host) => GuestName.Problem(host) is { } p ? throw new ArgumentException($"host name: {p}") : host;

    /// <summary>"Chassis Power is on" (ipmitool) or "on"/"standby"/"off" (a power command).</summary>
    public static HostPowerStatus Parse(string output)
    {
        var text = output.Trim().ToLowerInvariant();
        if (text.EndsWith("standby", StringComparison.Ordinal)) return HostPowerStatus.Standby;
        if (text.EndsWith(" on", StringComparison.Ordinal) || text == "on") return HostPowerStatus.On;
        if (text.EndsWith(" off", StringComparison.Ordinal) || text == "off") return HostPowerStatus.Off;
        return HostPowerStatus.Unknown;
    }

    /// <summary>Checks the power settings at start-up, so a typo is a usage error, not a failed power-on at night.</summary>
    public static IEnumerable<string> Problems(string controller, PowerOptions o)
    {
        if (controller == "command")
        {
            if (string.IsNullOrWhiteSpace(o.Command) || !Path.IsPathFullyQualified(o.Command)) yield return "--power command needs KvmCluster:Power:Command, an absolute path";
            else if (!File.Exists(o.Command)) yield return $"power command {o.Command} does not exist";
        }
        if (controller == "ipmitool")
        {
            if (!Regex.IsMatch(o.Interface, "^[a-z]+$")) yield return $"KvmCluster:Power:Interface '{o.Interface}' is not an ipmitool interface name";
            if (o.Hosts.Count == 0) yield return "--power ipmitool needs KvmCluster:Power:Hosts (a BMC per host)";
            foreach (var (host, bmc) in o.Hosts)
            {
                var at = $"KvmCluster:Power:Hosts:{host}";
                if (GuestName.Problem(host) is { } p) yield return $"{at}: {p}";
                if (!IPAddress.TryParse(bmc.Address, out _) && !HostName().IsMatch(bmc.Address)) yield return $"{at}:Address '{bmc.Address}' is not an IP address or host name";
                if (!User().IsMatch(bmc.User)) yield return $"{at}:User '{bmc.User}' must be 1-32 letters, digits, '.', '_' or '-'";
                if (!Path.IsPathFullyQualified(bmc.PasswordFile) || !File.Exists(bmc.PasswordFile)) yield return $"{at}:PasswordFile '{bmc.PasswordFile}' must be an existing absolute path";
            }
        }
    }

    [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$")]
    private static partial Regex HostName();

    [GeneratedRegex("^[A-Za-z0-9._-]{1,32}$")]
    private static partial Regex User();
}
