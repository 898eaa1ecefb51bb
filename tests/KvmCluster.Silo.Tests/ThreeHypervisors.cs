using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Migrations;
using KvmCluster.Grains.Serialization;
using KvmCluster.Hosting;
using KvmCluster.Hosting.Drivers;
using KvmCluster.Policies.Model;
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
    private readonly ExternalProcess _redis;

    private readonly int _redisPort;

    private ThreeHypervisors(InProcessTestCluster cluster, ExternalProcess redis, int redisPort) { Cluster = cluster; _redis = redis; _redisPort = redisPort; }

    /// <summary>Whether a grain state whose Redis key contains <paramref name="state"/> holds <paramref name="text"/> (as stored, in Redis).</summary>
    public async Task<bool> StoredStateContains(string state, string text)
    {
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_redisPort}");
        var server = redis.GetServer("127.0.0.1", _redisPort);
        var needle = System.Text.Encoding.UTF8.GetBytes(text);
        await foreach (var key in server.KeysAsync(pattern: $"*{state}*"))
            foreach (var field in await redis.GetDatabase().HashGetAllAsync(key))
                if (((byte[]?)field.Value ?? []).AsSpan().IndexOf(needle) >= 0) return true;
        return false;
    }

    public static string HypervisorOf(string siloName) => "hv-" + siloName.Split('_')[1];

    /// <param name="timeScale">Simulated seconds per real second of migration transfer (a 1 GiB guest at 1000 MiB/s takes 1 s at scale 1).</param>
    /// <param name="migrationRetention">How long finished migration records are kept (the product's 7 days unless given).</param>
    public static async Task<ThreeHypervisors> StartAsync(double timeScale = 20, TimeSpan? migrationRetention = null)
    {
        // State and reminders live in a real Redis (its own server per cluster), as on real silos: a killed silo
        // loses its activations, not the migrations' and guests' records.
        var port = ExternalProcess.FreePort();
        var redis = new ExternalProcess(ExternalProcess.RedisServer(), ["--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        await WaitForRedis(port, redis);
        var builder = new InProcessTestClusterBuilder(3);
        builder.ConfigureSilo((options, silo) =>
        {
            var settings = new SiloSettings { PlanningIntervalSeconds = 0, HostReportSeconds = 1 };
            silo.AddKvmRedisState($"127.0.0.1:{port}");
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
            silo.AddKvmCluster(HypervisorOf(options.SiloName), settings);
            silo.Services.Configure<SimulatedDriverOptions>(o => { o.TimeScale = timeScale; o.Threads = 16; o.MemoryMiB = 64 * 1024; });
            silo.Services.Configure<MigrationGrainOptions>(o => { o.WatchdogInterval = TimeSpan.FromMilliseconds(300); o.ReminderPeriod = TimeSpan.FromSeconds(1); if (migrationRetention is { } r) o.Retention = r; });
        });
        builder.ConfigureClient(client => client.Services.AddSerializer(s => s.AddPolicyTypes()));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        var fixture = new ThreeHypervisors(cluster, redis, port);
        await fixture.ReportAllAsync();
        return fixture;
    }

    public ISchedulerGrain Scheduler => Client.GetGrain<ISchedulerGrain>(Grains.Contracts.Cluster.Key);
    public IHostGrain Host(string name) => Client.GetGrain<IHostGrain>(name);

    /// <summary>Submits a policy document through the policy grain and makes it the active one.</summary>
    public async Task ActivatePolicy(string yaml)
    {
        var policies = Client.GetGrain<IPolicyGrain>(Grains.Contracts.Cluster.Key);
        var v = await policies.Submit(yaml, "test.yaml");
        await policies.Activate(v.Name, v.Version);
    }

    /// <summary>Every live host pushes a fresh report (they also do on their 1 s timer).</summary>
    public async Task ReportAllAsync()
    {
        foreach (var silo in Cluster.Silos)
            await Retry(() => Host(HypervisorOf(silo.Name)).Refresh());
    }

    /// <summary>The silo the scheduler grain runs on, and the other two hypervisors (in name order).</summary>
    public async Task<(InProcessSiloHandle Silo, string First, string Second)> SchedulersSiloAndTheOtherTwo()
    {
        await Scheduler.Hosts(); // activates it
        var at = await Client.GetGrain<IManagementGrain>(0).GetActivationAddress(Scheduler);
        var silo = Cluster.Silos.Single(s => s.SiloAddress.Equals(at));
        var others = Cluster.Silos.Where(s => s != silo).Select(s => HypervisorOf(s.Name)).Order().ToList();
        return (silo, others[0], others[1]);
    }

    /// <summary>Every live host takes a usage sample now (their sample timers are minutes apart) and reports it.</summary>
    public async Task SampleAllAsync()
    {
        foreach (var silo in Cluster.Silos)
            await Retry(() => Host(HypervisorOf(silo.Name)).Sample());
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

    private static async Task WaitForRedis(int port, ExternalProcess redis)
    {
        for (var i = 0; i < 100; i++)
        {
            if (redis.HasExited) throw new InvalidOperationException("redis-server exited: " + redis.Output);
            try { using var c = new System.Net.Sockets.TcpClient(); await c.ConnectAsync("127.0.0.1", port); return; }
            catch (System.Net.Sockets.SocketException) { await Task.Delay(50); }
        }
        throw new TimeoutException("redis-server did not start: " + redis.Output);
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        _redis.Dispose();
    }
}
