using System.Collections.Concurrent;
using KvmCluster.Grains.Ports;
using Microsoft.Extensions.Options;

namespace KvmCluster.Hosting.Drivers;

/// <summary>The simulated hypervisors of one silo: usually one, several for a simulated fleet (bench, kvmsim replays).</summary>
public sealed class SimulatedFleet(ISimulatedWorld world, IOptions<SimulatedDriverOptions> options, IPowerController power) : IHypervisors, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, SimulatedHypervisor> _hosts = new(StringComparer.Ordinal);

    public IHypervisor For(string host) => _hosts.GetOrAdd(host, h => new SimulatedHypervisor(h, world, options.Value, power));

    public async ValueTask DisposeAsync()
    {
        foreach (var h in _hosts.Values) await h.DisposeAsync();
    }
}
