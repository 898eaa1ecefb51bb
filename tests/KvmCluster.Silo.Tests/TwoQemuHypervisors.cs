using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Migrations;
using KvmCluster.Grains.Serialization;
using KvmCluster.Hosting;
using KvmCluster.Hosting.Drivers.Qemu;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.TestingHost;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// Two silos = two hypervisors (hv-0, hv-1) on the QEMU driver: real QEMU processes (TCG here), each silo with its
/// own state directory (QMP sockets, serial logs), migrations QEMU to QEMU over loopback.
/// </summary>
public sealed class TwoQemuHypervisors : IAsyncDisposable
{
    public InProcessTestCluster Cluster { get; }
    public IClusterClient Client => Cluster.Client;
    public DirectoryInfo State { get; }

    private TwoQemuHypervisors(InProcessTestCluster cluster, DirectoryInfo state) { Cluster = cluster; State = state; }

    public static async Task<TwoQemuHypervisors> StartAsync()
    {
        var qemu = TestGuest.Qemu;
        _ = TestGuest.Kernel;
        var state = Directory.CreateTempSubdirectory("kvc-");
        ProcessMemoryStorage? store = null;
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((options, silo) =>
        {
            var hv = ThreeHypervisors.HypervisorOf(options.SiloName);
            var settings = new SiloSettings { Hypervisor = hv, Driver = "qemu", StateDirectory = Path.Combine(state.FullName, hv), PlanningIntervalSeconds = 0, HostReportSeconds = 1 };
            silo.Services.AddSingleton(settings);
            silo.AddKvmMemoryState(sp => store ??= ProcessMemoryStorage.Create(sp));
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
            silo.AddKvmCluster(hv, settings);
            silo.Services.Configure<QemuOptions>(o => { o.Binary = qemu; o.Accel = "tcg"; o.StopGuestsOnShutdown = true; o.SharedMounts = [state.FullName]; o.ImageDirectories = [Path.Combine(state.FullName, "images")]; });
            silo.Services.Configure<MigrationGrainOptions>(o => { o.WatchdogInterval = TimeSpan.FromMilliseconds(300); o.ReminderPeriod = TimeSpan.FromSeconds(1); });
        });
        builder.ConfigureClient(client => client.Services.AddSerializer(s => s.AddPolicyTypes()));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        var fixture = new TwoQemuHypervisors(cluster, state);
        foreach (var silo in cluster.Silos) await ThreeHypervisors.Eventually(() => fixture.Host(ThreeHypervisors.HypervisorOf(silo.Name)).Refresh(), r => r.DriverProblem is null);
        await ThreeHypervisors.Eventually(() => fixture.Scheduler.Hosts(), h => h.Count == 2);
        return fixture;
    }

    public ISchedulerGrain Scheduler => Client.GetGrain<ISchedulerGrain>(Grains.Contracts.Cluster.Key);
    public IHostGrain Host(string name) => Client.GetGrain<IHostGrain>(name);

    /// <summary>The backing images directory: the same path on both hypervisors, as on a real fleet.</summary>
    public string Images => Directory.CreateDirectory(Path.Combine(State.FullName, "images")).FullName;

    /// <summary>A host's image of a guest's local or overlay disk.</summary>
    public string Disk(string host, string guest, int index) => GuestFiles.For(Path.Combine(State.FullName, host, "qemu"), guest).Disk(index);

    public string Serial(string host, string guest) => GuestFiles.For(Path.Combine(State.FullName, host, "qemu"), guest).Serial;
    public string PidFile(string host, string guest) => GuestFiles.For(Path.Combine(State.FullName, host, "qemu"), guest).Pid;

    /// <summary>Waits for a heartbeat newer than <paramref name="after"/> in a host's serial log of the guest.</summary>
    public async Task<int> Heartbeat(string host, string guest, int after = 0) =>
        await ThreeHypervisors.Eventually(() => Task.FromResult(TestGuest.LastHeartbeat(Serial(host, guest))), b => b > after, TimeSpan.FromSeconds(30));

    public async Task ActivatePolicy(string yaml)
    {
        var policies = Client.GetGrain<IPolicyGrain>(Grains.Contracts.Cluster.Key);
        var v = await policies.Submit(yaml, "test.yaml");
        await policies.Activate(v.Name, v.Version);
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        try { State.Delete(recursive: true); } catch (IOException) { }
    }
}
