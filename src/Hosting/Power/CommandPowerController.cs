using KvmCluster.Grains.Ports;
using KvmCluster.Hosting.Processes;
using Microsoft.Extensions.Options;

namespace KvmCluster.Hosting.Power;

/// <summary>
/// `--power command`: the operator's own executable powers hosts (a PDU, a cloud API, wake-on-LAN…). It is run as
/// `COMMAND on|off|status HOST` (argv, no shell); `status` prints on, standby or off.
/// </summary>
public sealed class CommandPowerController(IOptions<PowerOptions> options) : IPowerController
{
    private PowerOptions O => options.Value;

    public Task PowerOnAsync(string host, CancellationToken cancellationToken) => Run("on", host, cancellationToken);

    public Task PowerOffAsync(string host, CancellationToken cancellationToken) => Run("off", host, cancellationToken);

    public async Task<HostPowerStatus> StatusAsync(string host, CancellationToken cancellationToken) =>
        PowerStatus.Parse(await Run("status", host, cancellationToken));

    private async Task<string> Run(string verb, string host, CancellationToken cancellationToken)
    {
        var name = PowerStatus.ValidHost(host);
        var r = await ProcessRunner.RunAsync(O.Command!, [verb, name], TimeSpan.FromSeconds(O.TimeoutSeconds), cancellationToken);
        if (r.ExitCode != 0) throw new InvalidOperationException($"power command '{verb} {name}' exited {r.ExitCode}: {Last(r.Error, r.Output)}");
        return r.Output;
    }

    private static string Last(string error, string output) => (error.Length > 0 ? error : output) is { Length: > 0 } s ? s.Split('\n')[^1] : "(no output)";
}
