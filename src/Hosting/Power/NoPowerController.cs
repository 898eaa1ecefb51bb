using KvmCluster.Grains.Ports;

namespace KvmCluster.Hosting.Power;

/// <summary>`--power none`: power actions stay recommendations; executing one says why it was not done.</summary>
public sealed class NoPowerController : IPowerController
{
    public Task PowerOnAsync(string host, CancellationToken cancellationToken) => throw new InvalidOperationException("no power controller is configured (--power none)");
    public Task PowerOffAsync(string host, CancellationToken cancellationToken) => throw new InvalidOperationException("no power controller is configured (--power none)");
    public Task<HostPowerStatus> StatusAsync(string host, CancellationToken cancellationToken) => Task.FromResult(HostPowerStatus.Unknown);
}
