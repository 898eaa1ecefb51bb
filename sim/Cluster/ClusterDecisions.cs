using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Ports;
using KvmCluster.Grains.Scheduling;
using KvmCluster.Hosting;
using KvmCluster.Hosting.Drivers;
using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Planning;
using KvmCluster.Sim.Engine;
using Microsoft.Extensions.DependencyInjection;

namespace KvmCluster.Sim.Cluster;

/// <summary>
/// A replay's decisions from a KvmCluster: in-process silos with one simulated hypervisor per datacenter host, the
/// policy submitted (or a built-in activated by name) through the policy grain, every placement through the scheduler
/// grain (which launches the guest on its host grain's driver), at every update each host grain samples its guests
/// (the only usage history the cluster has: what its host grains sampled), every planning round the scheduler's
/// Preview over what the host grains report, and every migration the simulator completes carried out by a migration
/// grain (a real transfer between the simulated drivers). The cluster's clock is the trace's.
/// </summary>
internal sealed class ClusterDecisions : IDecisionSource, IAsyncDisposable
{
    private readonly SimDatacenter _dc;
    private readonly TraceClock _clock;
    private readonly EmbeddedFleet _fleet;
    private readonly Dictionary<int, int> _running = []; // VM → host, as the cluster runs it
    private double _reportedAt = double.NaN;

    private ClusterDecisions(SimDatacenter dc, TraceClock clock, EmbeddedFleet fleet) { _dc = dc; _clock = clock; _fleet = fleet; }

    /// <summary>The cluster deciding (for tests: what its grains recorded).</summary>
    internal EmbeddedFleet Fleet => _fleet;

    /// <param name="policyText">The policy document, or null to activate <paramref name="policySource"/> as a built-in name.</param>
    public static ClusterDecisions Start(SimDatacenter dc, string? policyText, string policySource, SimOptions options, int silos)
    {
        var clock = new TraceClock();
        var hosts = Enumerable.Range(0, dc.Hosts.Length).Select(SimFleetSnapshot.HostName).ToList();
        var link = SimOptions.LinkFor(dc.Hosts.Min(h => h.Type.BwKbps));
        // No timers: hosts report and the scheduler plans when the replay says so, at trace time.
        var settings = new SiloSettings { PlanningIntervalSeconds = 0, HostReportSeconds = 30 * 86_400, SampleIntervalSeconds = options.Interval };
        var fleet = EmbeddedFleet.StartAsync(hosts, silos, settings, services =>
        {
            services.AddSingleton(new FleetClock(clock));
            services.AddSingleton<ISimulatedWorld>(new TraceWorld(dc, options));
            // Samples at the trace's update instants, when the replay says so, not on a timer.
            services.PostConfigure<Grains.Hosts.HostGrainOptions>(o => o.SampleInterval = TimeSpan.Zero);
            // Transfers as fast as loopback goes: the simulator accounts migration time in trace time.
            services.Configure<SimulatedDriverOptions>(o => o.TimeScale = 1e6);
            services.Configure<SchedulerOptions>(o =>
            {
                o.PlacementUsageRefresh = TimeSpan.Zero;
                o.MigrationLink = link;
                o.ExecutePlans = false;
            });
        }).GetAwaiter().GetResult();
        var decisions = new ClusterDecisions(dc, clock, fleet);
        var policies = fleet.Grains.GetGrain<IPolicyGrain>(Grains.Contracts.Cluster.Key);
        if (policyText is null) policies.Activate(policySource, null).GetAwaiter().GetResult();
        else
        {
            var version = policies.Submit(policyText, policySource).GetAwaiter().GetResult();
            policies.Activate(version.Name, version.Version).GetAwaiter().GetResult();
        }
        return decisions;
    }

    public int Place(int vm)
    {
        CatchUp();
        try
        {
            var placed = _fleet.Scheduler.Place(SimFleetSnapshot.Guest(_dc.Vms[vm], null)).GetAwaiter().GetResult();
            var h = SimFleetSnapshot.HostIndex(placed.Host!);
            _running[vm] = h;
            return h;
        }
        catch (ClusterException e) when (e.Kind == ProblemKind.Conflict) { return -1; }
    }

    /// <summary>Every host grain samples its guests now (the datacenter's present usage) and reports.</summary>
    public void Sample(DateTimeOffset now)
    {
        _clock.Set(_dc.Clock);
        StopDeparted();
        _fleet.SampleAllAsync().GetAwaiter().GetResult();
        _reportedAt = _dc.Clock;
    }

    public (string Id, IReadOnlyList<PlanStep> Steps) Plan(DateTimeOffset now, MigrationLink link)
    {
        CatchUp();
        var plan = _fleet.Scheduler.Preview().GetAwaiter().GetResult();
        return (plan.Id, [.. PlanViewMapping.Steps(plan).OrderBy(s => s.Step)]);
    }

    public void MigrationCompleted(int vm, int from, int to)
    {
        _clock.Set(_dc.Clock);
        var guest = SimFleetSnapshot.GuestName(vm);
        // Both hosts as they are now (the destination may have just booted) before the cluster moves the guest.
        _fleet.ReportAsync([SimFleetSnapshot.HostName(from), SimFleetSnapshot.HostName(to)], _clock.GetUtcNow()).GetAwaiter().GetResult();
        // Forced: the simulator runs the plan's waves, which already respect the policy's limits.
        var started = _fleet.Scheduler.Migrate(guest, SimFleetSnapshot.HostName(to), true).GetAwaiter().GetResult();
        var migration = _fleet.Grains.GetGrain<IMigrationGrain>(started.Id);
        var ended = Until(() => migration.Get(), m => m is { Status: MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled });
        if (ended!.Status != MigrationStatus.Completed)
            throw new InvalidOperationException($"the cluster's migration {started.Id} of {guest} ended {ended.Status}: {ended.Reason}");
        // The scheduler learns of the end one-way: wait until it has the guest on its new host.
        Until(() => _fleet.Scheduler.Guests(), gs => gs.Any(g => g.Name == guest && g.Host == SimFleetSnapshot.HostName(to) && g.Status == GuestStatus.Running));
        _running[vm] = to;
    }

    /// <summary>
    /// Brings the cluster to the datacenter's present before a decision: guests that left (or were never created)
    /// stop on their hosts, and at a new instant every host reports its present usage.
    /// </summary>
    private void CatchUp()
    {
        _clock.Set(_dc.Clock);
        StopDeparted();
        if (_reportedAt == _dc.Clock) return;
        _fleet.ReportAllAsync(_clock.GetUtcNow()).GetAwaiter().GetResult();
        _reportedAt = _dc.Clock;
    }

    /// <summary>Guests that left (or were never created) stop on their hosts.</summary>
    private void StopDeparted()
    {
        foreach (var (vm, host) in _running.Where(r => _dc.Vms[r.Key].Gone || _dc.Vms[r.Key].Rejected).ToList())
        {
            _fleet.Grains.GetGrain<IHostGrain>(SimFleetSnapshot.HostName(host)).Stop(SimFleetSnapshot.GuestName(vm)).GetAwaiter().GetResult();
            _running.Remove(vm);
        }
    }

    private static T Until<T>(Func<Task<T>> probe, Func<T, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var value = probe().GetAwaiter().GetResult();
            if (done(value)) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the cluster did not reach the expected state; last: {value}");
            Thread.Sleep(2);
        }
    }

    public ValueTask DisposeAsync() => _fleet.DisposeAsync();
}
