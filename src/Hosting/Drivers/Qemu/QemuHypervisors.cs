using KvmCluster.Grains.Ports;
using KvmCluster.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>`--driver qemu`: the one hypervisor this silo runs on.</summary>
public sealed class QemuHypervisors(SiloSettings settings, IOptions<QemuOptions> options, IFaultInjection faults, ILogger<QemuHypervisor> log) : IHypervisors, IAsyncDisposable
{
    private readonly QemuHypervisor _host = new(settings.Hypervisor, options.Value, settings.StateDirectory, log, faults);

    public IHypervisor For(string host) => host == settings.Hypervisor
        ? _host
        : throw new InvalidOperationException($"this silo runs hypervisor '{settings.Hypervisor}', not '{host}'");

    public ValueTask DisposeAsync() => _host.DisposeAsync();
}
