using KvmCluster.Grains.Ports;
using KvmCluster.Hosting.Processes;
using Microsoft.Extensions.Options;

namespace KvmCluster.Hosting.Power;

/// <summary>
/// `--power ipmitool`: each host's BMC through ipmitool — `chassis power on`, `chassis power soft` (an ACPI
/// shutdown: the host is empty by then and shuts down cleanly), `chassis power status`. The password is passed as a
/// file (-f), so it never shows in the process list.
/// </summary>
public sealed class IpmiPowerController(IOptions<PowerOptions> options) : IPowerController
{
    private PowerOptions O => options.Value;

    public Task PowerOnAsync(string host, CancellationToken cancellationToken) => Chassis(host, "on", cancellationToken);

    public Task PowerOffAsync(string host, CancellationToken cancellationToken) => Chassis(host, "soft", cancellationToken);

    public async Task<HostPowerStatus> StatusAsync(string host, CancellationToken cancellationToken) =>
        PowerStatus.Parse(await Chassis(host, "status", cancellationToken));

    private async Task<string> Chassis(string host, string action, CancellationToken cancellationToken)
    {
        var name = PowerStatus.ValidHost(host);
        if (!O.Hosts.TryGetValue(name, out var bmc)) throw new InvalidOperationException($"no BMC configured for host '{name}' (KvmCluster:Power:Hosts:{name})");
        var r = await ProcessRunner.RunAsync(O.Ipmitool,
            ["-I", O.Interface, "-H", bmc.Address, "-U", bmc.User, "-f", bmc.PasswordFile, "chassis", "power", action],
            TimeSpan.FromSeconds(O.TimeoutSeconds), cancellationToken);
        if (r.ExitCode != 0) throw new InvalidOperationException($"ipmitool chassis power {action} for {name} ({bmc.Address}) exited {r.ExitCode}: {(r.Error.Length > 0 ? r.Error : r.Output)}");
        return r.Output;
    }
}
