using System.Net;
using System.Net.Sockets;
using KvmCluster.Grains.Contracts;
using KvmCluster.Hosting.Drivers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KvmCluster.Hosting;

/// <summary>
/// An in-process cluster of simulated hypervisors: one or more silos on loopback, each a real KvmCluster silo (the
/// same grains, placement pinning and serialization) with in-memory state, running its share of the hosts. Used by
/// `kvmcluster bench` and by kvmsim's replays through the cluster.
/// </summary>
public sealed class EmbeddedFleet : IAsyncDisposable
{
    private readonly List<IHost> _silos;

    private EmbeddedFleet(List<IHost> silos, IReadOnlyList<string> hosts) { _silos = silos; Hosts = hosts; }

    public IReadOnlyList<string> Hosts { get; }
    /// <summary>The first silo's own grain factory (a hosted client: no gateway hop).</summary>
    public IGrainFactory Grains => _silos[0].Services.GetRequiredService<IGrainFactory>();
    public ISchedulerGrain Scheduler => Grains.GetGrain<ISchedulerGrain>(Cluster.Key);

    /// <param name="hosts">Host names, dealt round-robin to the silos.</param>
    /// <param name="configure">Extra services for every silo (a simulated world, options), added before the defaults.</param>
    public static async Task<EmbeddedFleet> StartAsync(IReadOnlyList<string> hosts, int siloCount, SiloSettings settings,
        Action<IServiceCollection>? configure = null, CancellationToken cancellationToken = default)
    {
        var silos = new List<IHost>();
        var clusterId = $"embedded-{Guid.NewGuid():N}";
        IPEndPoint? primary = null;
        ProcessMemoryStorage? storage = null;
        try
        {
            for (var i = 0; i < siloCount; i++)
            {
                var mine = hosts.Where((_, k) => k % siloCount == i).ToList();
                if (mine.Count == 0) break;
                var (siloPort, gatewayPort) = (FreePort(), FreePort());
                var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
                builder.Logging.SetMinimumLevel(LogLevel.Warning).AddFilter("Orleans", LogLevel.Error);
                configure?.Invoke(builder.Services);
                // A QEMU silo runs one hypervisor, named in its own settings, with its own state directory.
                var mySettings = settings.Driver == "qemu" ? settings.For(mine.Single()) : settings;
                builder.Services.AddSingleton(mySettings);
                builder.UseOrleans(silo =>
                {
                    silo.UseLocalhostClustering(siloPort, gatewayPort, primary, serviceId: "embedded", clusterId: clusterId);
                    // One store for all silos of the process: a grain that moves between them keeps its state.
                    silo.AddKvmMemoryState(sp => storage ??= ProcessMemoryStorage.Create(sp));
                    silo.AddKvmCluster(mine, mySettings);
                });
                var host = builder.Build();
                await host.StartAsync(cancellationToken);
                silos.Add(host);
                primary ??= new IPEndPoint(IPAddress.Loopback, siloPort);
            }
        }
        catch
        {
            foreach (var s in silos) await Stop(s);
            throw;
        }
        return new EmbeddedFleet(silos, hosts);
    }

    /// <summary>The driver of one host (whichever silo runs it).</summary>
    public Grains.Ports.IHypervisor Hypervisor(string host)
    {
        foreach (var silo in _silos)
            try { return silo.Services.GetRequiredService<Grains.Ports.IHypervisors>().For(host); }
            catch (InvalidOperationException) { } // another silo's
        throw new ArgumentException($"no silo runs hypervisor '{host}'");
    }

    /// <summary>Every host reports now; returns when the scheduler holds a report from each.</summary>
    public Task ReportAllAsync(DateTimeOffset? reportedAt = null) => ReportAsync(Hosts, reportedAt);

    /// <summary>These hosts report now; returns when the scheduler holds their reports (made at <paramref name="reportedAt"/>, if given).</summary>
    public async Task ReportAsync(IReadOnlyCollection<string> hosts, DateTimeOffset? reportedAt = null)
    {
        await Task.WhenAll(hosts.Select(h => Grains.GetGrain<IHostGrain>(h).Refresh()));
        // Reports are one-way messages: wait until the scheduler has processed them all.
        var wanted = hosts.ToHashSet(StringComparer.Ordinal);
        for (var attempt = 0; ; attempt++)
        {
            var known = await Scheduler.Hosts();
            if (known.Count(h => wanted.Contains(h.Name) && (reportedAt is null || h.ReportedAt == reportedAt)) >= wanted.Count) return;
            if (attempt > 2000) throw new TimeoutException($"the scheduler holds {known.Count} of {wanted.Count} host reports");
            await Task.Delay(5);
        }
    }

    /// <summary>Every host takes a usage sample now and reports; returns when the scheduler holds every report made.</summary>
    public async Task SampleAllAsync()
    {
        var reports = await Task.WhenAll(Hosts.Select(h => Grains.GetGrain<IHostGrain>(h).Sample()));
        var made = reports.ToDictionary(r => r.Host.Name, r => r.SampledAt);
        for (var attempt = 0; ; attempt++)
        {
            var known = await Scheduler.Hosts();
            if (known.Count(h => made.TryGetValue(h.Name, out var at) && h.SampledAt >= at) >= Hosts.Count) return;
            if (attempt > 2000) throw new TimeoutException($"the scheduler holds {known.Count} of {Hosts.Count} sampled host reports");
            await Task.Delay(5);
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static async Task Stop(IHost host)
    {
        try { await host.StopAsync(TimeSpan.FromSeconds(5)); } catch (Exception) { /* shutting down anyway */ }
        host.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _silos.Count - 1; i >= 0; i--) await Stop(_silos[i]);
    }
}
