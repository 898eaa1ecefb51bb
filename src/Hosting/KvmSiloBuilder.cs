using System.Net;
using KvmCluster.Grains;
using KvmCluster.Grains.Hosts;
using KvmCluster.Grains.Migrations;
using KvmCluster.Grains.Placement;
using KvmCluster.Grains.Ports;
using KvmCluster.Grains.Scheduling;
using KvmCluster.Grains.Serialization;
using KvmCluster.Hosting.Drivers;
using KvmCluster.Hosting.Power;
using KvmCluster.Hosting.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.Storage;
using StackExchange.Redis;

namespace KvmCluster.Hosting;

/// <summary>What every KvmCluster silo has, whether a real one or one in a test cluster.</summary>
public static class KvmSiloBuilder
{
    /// <summary>Grains, the hypervisor port, placement pinning and serialization; storage and clustering are separate.</summary>
    public static ISiloBuilder AddKvmCluster(this ISiloBuilder silo, string hypervisor, SiloSettings settings) =>
        silo.AddKvmCluster([hypervisor], settings);

    /// <summary>A silo running several (simulated) hypervisors.</summary>
    public static ISiloBuilder AddKvmCluster(this ISiloBuilder silo, IReadOnlyCollection<string> hypervisors, SiloSettings settings)
    {
        if (hypervisors.Count > 1 && settings.Driver != "simulated")
            throw new UsageException($"only the simulated driver runs several hypervisors in one silo (driver is {settings.Driver})");
        silo.AddHypervisorPlacement(hypervisors);
        silo.Services.AddSerializer(s => s.AddPolicyTypes());
        silo.Services.TryAddSingleton(FleetClock.System);
        // Fault points only for the fault-injection tests (KVMCLUSTER_FAULTS); none otherwise.
        silo.Services.TryAddSingleton<IFaultInjection>(sp => FileFaultInjection.FromEnvironment(sp, settings.Hypervisor));
        silo.Services.AddOptions<HostGrainOptions>().Configure<Microsoft.Extensions.Options.IOptions<SimulatedDriverOptions>>((o, simulated) =>
        {
            o.ReportInterval = TimeSpan.FromSeconds(settings.HostReportSeconds);
            o.SampleSeconds = settings.SampleIntervalSeconds;
            // A simulated fleet may run faster than real time: its samples come as often as its time scale says.
            var scale = settings.Driver == "simulated" ? simulated.Value.TimeScale : 1;
            o.SampleInterval = settings.SampleIntervalSeconds > 0 ? TimeSpan.FromSeconds(settings.SampleIntervalSeconds / scale) : TimeSpan.Zero;
            foreach (var (k, v) in settings.Labels) o.Labels[k] = v;
        });
        silo.Services.Configure<SchedulerOptions>(o =>
        {
            o.PlanningInterval = TimeSpan.FromSeconds(settings.PlanningIntervalSeconds);
            o.UsageSampleSeconds = settings.SampleIntervalSeconds > 0 ? settings.SampleIntervalSeconds : 300;
            // Reports every HostReportSeconds: three missed ones make a host unreachable; a guest is lost once its host
            // has reported without it for three report intervals after its record said it runs there.
            // At least 10 s: a busy hypervisor's reports may come a few seconds late (measured: 3 s on 2 loaded cores).
            o.ReportStaleAfter = TimeSpan.FromSeconds(Math.Max(10, 3 * settings.HostReportSeconds));
            o.LostAfter = TimeSpan.FromSeconds(Math.Max(10, 3 * settings.HostReportSeconds));
            o.PlansKept = settings.PlansKept;
        });
        silo.Services.AddOptions<MigrationGrainOptions>().Configure(o => o.Retention = TimeSpan.FromDays(settings.MigrationRetentionDays));
        silo.Services.AddOptions<SimulatedDriverOptions>();
        switch (settings.Driver)
        {
            case "simulated":
                silo.Services.TryAddSingleton<ISimulatedWorld, ConfiguredWorld>();
                silo.Services.TryAddSingleton<IHypervisors, SimulatedFleet>();
                break;
            case "qemu":
                // QEMU's migration and NBD streams use the silo's TLS directory unless told otherwise.
                silo.Services.AddOptions<Drivers.Qemu.QemuOptions>().PostConfigure(o => o.TlsDirectory ??= settings.TlsDirectory);
                silo.Services.TryAddSingleton(settings);
                silo.Services.TryAddSingleton<IHypervisors, Drivers.Qemu.QemuHypervisors>();
                break;
            default: throw new UsageException($"unknown driver '{settings.Driver}' (expected simulated or qemu)");
        }
        silo.Services.AddOptions<PowerOptions>();
        switch (settings.Power)
        {
            case "none": silo.Services.TryAddSingleton<IPowerController, NoPowerController>(); break;
            case "command": silo.Services.TryAddSingleton<IPowerController, CommandPowerController>(); break;
            case "ipmitool": silo.Services.TryAddSingleton<IPowerController, IpmiPowerController>(); break;
            default: throw new UsageException($"unknown power controller '{settings.Power}' (expected none, command or ipmitool)");
        }
        return silo;
    }

    /// <summary>Grain state and reminders in Redis, stored with the Orleans serializer (version-tolerant, no type names in JSON).</summary>
    public static ISiloBuilder AddKvmRedisState(this ISiloBuilder silo, string redisConnection) => silo.AddKvmRedisState(ConfigurationOptions.Parse(redisConnection));

    public static ISiloBuilder AddKvmRedisState(this ISiloBuilder silo, ConfigurationOptions redis)
    {
        silo.AddRedisGrainStorage(StorageNames.Store, o => o.ConfigurationOptions = redis);
        silo.Services.AddOptions<Orleans.Persistence.RedisStorageOptions>(StorageNames.Store)
            .Configure<IServiceProvider>((o, sp) => o.GrainStorageSerializer = new OrleansGrainStorageSerializer(sp.GetRequiredService<Orleans.Serialization.Serializer>()));
        silo.UseRedisReminderService(o => o.ConfigurationOptions = redis);
        return silo;
    }

    /// <summary>
    /// Grain state in this process's memory (embedded mode), stored with the Orleans serializer. Silos of one process
    /// share one store through <paramref name="shared"/> (called once per silo; return the same instance).
    /// </summary>
    public static ISiloBuilder AddKvmMemoryState(this ISiloBuilder silo, Func<IServiceProvider, ProcessMemoryStorage>? shared = null)
    {
        silo.Services.AddGrainStorage(StorageNames.Store, (sp, _) => shared?.Invoke(sp) ?? ProcessMemoryStorage.Create(sp));
        silo.UseInMemoryReminderService();
        return silo;
    }

    /// <summary>Embedded: one node on localhost, in-memory state. Redis: Redis membership, grain state and reminders.</summary>
    public static ISiloBuilder AddKvmClustering(this ISiloBuilder silo, SiloSettings settings)
    {
        silo.Configure<ClusterOptions>(o => { o.ClusterId = settings.ClusterId; o.ServiceId = settings.ServiceId; });
        silo.Configure<SiloOptions>(o => o.SiloName = settings.Hypervisor);
        var identity = TransportIdentity(settings);
        if (identity is not null) silo.UseClusterTransportSecurity(identity);
        if (string.IsNullOrWhiteSpace(settings.Redis))
        {
            silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, serviceId: settings.ServiceId, clusterId: settings.ClusterId);
            silo.AddKvmMemoryState();
            return silo;
        }
        silo.ConfigureEndpoints(IPAddress.Parse(settings.AdvertisedAddress), settings.SiloPort, settings.GatewayPort, listenOnAnyHostAddress: false);
        var redis = RedisConnection.Options(settings, identity);
        silo.UseRedisClustering(o => o.ConfigurationOptions = redis);
        silo.AddKvmRedisState(redis);
        if (settings.FastFailureDetection)
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                // Measured on this machine kind: a killed peer is marked dead in 0.75 s, a hung one in 8.5 s.
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 2;
                o.TableRefreshTimeout = TimeSpan.FromSeconds(5);
                o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
            });
        return silo;
    }

    /// <summary>
    /// Who may connect to the silo and gateway ports: holders of the TLS directory's authority; an embedded node
    /// without one, only itself; a Redis cluster without one only when told so (--insecure-transport), as nothing
    /// would then stop anyone who reaches the ports from calling every grain.
    /// </summary>
    public static ClusterIdentity? TransportIdentity(SiloSettings settings)
    {
        if (!string.IsNullOrWhiteSpace(settings.TlsDirectory)) return ClusterIdentity.FromDirectory(settings.TlsDirectory);
        if (settings.InsecureTransport) return null;
        if (string.IsNullOrWhiteSpace(settings.Redis)) return ClusterIdentity.Ephemeral(settings.Hypervisor, DateTimeOffset.UtcNow);
        throw new UsageException("Redis clustering needs --tls-dir (a TLS directory from 'kvmcluster certs host'), so that only the cluster's "
            + "silos can use the silo and gateway ports; --insecure-transport runs them unauthenticated");
    }
}

/// <summary>A mistake in how kvmcluster was called or configured: exit code 2, no stack trace.</summary>
public sealed class UsageException(string message) : Exception(message);
