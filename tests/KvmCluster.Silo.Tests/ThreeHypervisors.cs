using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Migrations;
using KvmCluster.Grains.Serialization;
using KvmCluster.Policies.Model;
using KvmCluster.Silo.Drivers;
using KvmCluster.Silo.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.TestingHost;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// Three silos = three hypervisors (hv-0, hv-1, hv-2) on the simulated driver, with the grains, placement director
/// and serialization of a real silo. Each test builds its own cluster: some kill silos.
/// </summary>
public sealed class ThreeHypervisors : IAsyncDisposable
{
    public InProcessTestCluster Cluster { get; }
    public IClusterClient Client => Cluster.Client;

    private ThreeHypervisors(InProcessTestCluster cluster) => Cluster = cluster;

    public static string HypervisorOf(string siloName) => "hv-" + siloName.Split('_')[1];

    /// <param name="timeScale">Simulated seconds per real second of migration transfer (a 1 GiB guest at 1000 MiB/s takes 1 s at scale 1).</param>
    public static async Task<ThreeHypervisors> StartAsync(double timeScale = 20)
    {
        var builder = new InProcessTestClusterBuilder(3);
        builder.ConfigureSilo((options, silo) =>
        {
            var settings = new SiloSettings { PlanningIntervalSeconds = 0, HostReportSeconds = 1 };
            silo.AddMemoryGrainStorage("store");
            silo.UseInMemoryReminderService();
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
            silo.AddKvmCluster(HypervisorOf(options.SiloName), settings);
            silo.Services.Configure<SimulatedDriverOptions>(o => { o.TimeScale = timeScale; o.Threads = 16; o.MemoryMiB = 64 * 1024; });
            silo.Services.Configure<MigrationGrainOptions>(o => { o.WatchdogInterval = TimeSpan.FromMilliseconds(300); o.ReminderPeriod = TimeSpan.FromSeconds(1); });
        });
        builder.ConfigureClient(client => client.Services.AddSerializer(s => s.AddPolicyTypes()));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        var fixture = new ThreeHypervisors(cluster);
        await fixture.ReportAllAsync();
        return fixture;
    }

    public ISchedulerGrain Scheduler => Client.GetGrain<ISchedulerGrain>(Grains.Contracts.Cluster.Key);
    public IHostGrain Host(string name) => Client.GetGrain<IHostGrain>(name);

    /// <summary>Every live host pushes a fresh report (they also do on their 1 s timer).</summary>
    public async Task ReportAllAsync()
    {
        foreach (var silo in Cluster.Silos)
            await Retry(() => Host(HypervisorOf(silo.Name)).Refresh());
    }

    public static Guest Guest(string name, int vcpus = 2, long memoryMiB = 2048) => new() { Name = name, VCpus = vcpus, MemoryMiB = memoryMiB };

    /// <summary>Hosts that really run the guest, from each live host's own inventory (not the scheduler's view).</summary>
    public async Task<List<string>> WhereRuns(string guest)
    {
        var hosts = new List<string>();
        foreach (var silo in Cluster.Silos)
        {
            var hv = HypervisorOf(silo.Name);
            var report = await Host(hv).Refresh();
            if (report.Guests.Any(g => g.Name == guest)) hosts.Add(hv);
        }
        return hosts;
    }

    public static async Task<T> Eventually<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var value = await probe();
            if (done(value)) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"condition not reached; last value: {value}");
            await Task.Delay(100);
        }
    }

    private static async Task Retry(Func<Task> action)
    {
        // A silo that just joined may not be known to the placing silo's metadata cache yet (about 0.1 s).
        for (var attempt = 0; ; attempt++)
        {
            try { await action(); return; }
            catch (Exception) when (attempt < 20) { await Task.Delay(200); }
        }
    }

    public async ValueTask DisposeAsync() => await Cluster.DisposeAsync();
}
