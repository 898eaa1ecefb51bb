using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Hosts;
using KvmCluster.Hosting;
using KvmCluster.Hosting.Drivers;
using KvmCluster.Hosting.Power;
using KvmCluster.Policies.Model;
using Microsoft.Extensions.DependencyInjection;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// Plans' power actions on a silo running three simulated hypervisors with `--power command`: the operator's command is
/// a real script that records every call with a time stamp and keeps each host's power state in a file (a power-off
/// takes effect a second later, as a host takes time to shut down). The simulated hosts are as powered as the script
/// says, and a powered-on host boots for three seconds before it reports as on.
/// </summary>
public sealed class PowerActionTests : IDisposable
{
    private readonly RecordingPowerCommand _power = new();

    private List<(DateTimeOffset At, string Verb, string Host, string? Answer)> Calls() => _power.Calls();

    private Task<EmbeddedFleet> StartAsync(params GuestLoadScript[] loads)
    {
        var script = _power.Script;
        var settings = new SiloSettings { Power = "command", PlanningIntervalSeconds = 0, HostReportSeconds = 1 };
        return EmbeddedFleet.StartAsync(["hv-1", "hv-2", "hv-3"], 1, settings, services =>
        {
            services.Configure<PowerOptions>(o => o.Command = script);
            // Transfers and boots 100 times faster than their simulated time: a 300 s boot takes 3 s.
            services.Configure<SimulatedDriverOptions>(o => { o.TimeScale = 100; o.BootSeconds = 300; o.Threads = 16; o.MemoryMiB = 64 * 1024; o.Loads = [.. loads]; });
            services.PostConfigure<HostGrainOptions>(o => o.SampleInterval = TimeSpan.Zero); // sampled when the test says
        });
    }

    private static Guest Guest(string name, int vcpus = 2, long memoryMiB = 4096) => new() { Name = name, VCpus = vcpus, MemoryMiB = memoryMiB };

    private static async Task Activate(EmbeddedFleet fleet, string yaml)
    {
        var policies = fleet.Grains.GetGrain<IPolicyGrain>(Cluster.Key);
        var v = await policies.Submit(yaml, "test.yaml");
        await policies.Activate(v.Name, v.Version);
    }

    private static async Task<List<string>> WhereRuns(EmbeddedFleet fleet, string guest)
    {
        var hosts = new List<string>();
        foreach (var h in fleet.Hosts)
            if ((await fleet.Hypervisor(h).InventoryAsync(CancellationToken.None)).Any(g => g.Name == guest)) hosts.Add(h);
        return hosts;
    }

    private static Task<PlanView> Ended(EmbeddedFleet fleet, string plan) =>
        ThreeHypervisors.Eventually(() => fleet.Scheduler.Plan(plan), p => p.State is "SUCCEEDED" or "FAILED" or "CANCELLED", TimeSpan.FromSeconds(90));

    private static async Task<IReadOnlyList<EventRecord>> Events(EmbeddedFleet fleet, string kind) =>
        await fleet.Grains.GetGrain<IEventLogGrain>(Cluster.Key).Query(null, kind, 0);

    [Fact]
    public async Task A_host_is_powered_off_only_after_its_last_guest_left_and_the_plan_waits_for_the_controller_to_say_off()
    {
        await using var fleet = await StartAsync();
        foreach (var (host, guests) in new[] { ("hv-1", new[] { "a1", "a2" }), ("hv-2", ["b1", "b2", "b3"]), ("hv-3", ["c1", "c2", "c3"]) })
            foreach (var g in guests) await fleet.Hypervisor(host).LaunchAsync(Guest(g) with { Host = host }, CancellationToken.None);
        await Activate(fleet, "name: consolidate\nbalancer: power-saving\npowerSaving:\n  hostsInReserve: 0\n  powerOffWindowMinutes: 5\nmigration:\n  maxOutboundPerHost: 1\n");
        await fleet.SampleAllAsync();

        var plan = await fleet.Scheduler.Preview();
        Assert.Equal(["a1", "a2"], plan.Moves.Select(m => m.Guest).Order());
        Assert.All(plan.Moves, m => Assert.Equal("hv-1", m.From));
        var off = Assert.Single(plan.PowerActions);
        Assert.Equal(("hv-1", "power-off"), (off.Host, off.Operation));
        Assert.True(off.Wave > plan.Moves.Max(m => m.Wave), "the power-off comes in a wave after every move");
        Assert.Equal(2, plan.Moves.Select(m => m.Wave).Distinct().Count()); // one outbound at a time: two waves

        await fleet.Scheduler.Execute(plan.Id);
        var done = await Ended(fleet, plan.Id);
        Assert.Equal("SUCCEEDED", done.State);

        var calls = Calls();
        var offAt = calls.Single(c => c.Verb == "off").At;
        Assert.Equal("hv-1", calls.Single(c => c.Verb == "off").Host);
        var completed = (await Events(fleet, "migration-completed")).Where(e => e.Subject is "a1" or "a2").ToList();
        Assert.Equal(2, completed.Count);
        Assert.True(offAt > completed.Max(e => e.At), $"power-off at {offAt:O} must follow the last evacuation ({completed.Max(e => e.At):O})");
        // The plan completed on the controller's word: the first status saying off came after the command, before SUCCEEDED.
        var confirmed = calls.First(c => c.Verb == "status" && c.Host == "hv-1" && c.Answer == "off" && c.At > offAt).At;
        var succeeded = (await Events(fleet, "plan-succeeded")).Single(e => e.Subject == plan.Id).At;
        Assert.True(confirmed <= succeeded && succeeded >= offAt.AddSeconds(1), $"off {offAt:O}, status off {confirmed:O}, succeeded {succeeded:O}");
        foreach (var g in new[] { "a1", "a2" })
        {
            var at = Assert.Single(await WhereRuns(fleet, g));
            Assert.NotEqual("hv-1", at);
        }
        var hv1 = await ThreeHypervisors.Eventually(() => fleet.Scheduler.Hosts(), hs => hs.Single(h => h.Name == "hv-1").Power == "off");
        Assert.Empty(hv1.Single(h => h.Name == "hv-1").Guests);
    }

    /// <summary>hv-1 and hv-2 at 95 % CPU (two 8-vCPU guests each on 16 threads), hv-3 off, power-saving active, sampled once.</summary>
    private async Task<EmbeddedFleet> BusyWithHv3Off()
    {
        _power.Set("hv-3", "off");
        var fleet = await StartAsync(new GuestLoadScript { Guests = "busy-*", Cpu = [0.95] });
        foreach (var (host, guests) in new[] { ("hv-1", new[] { "busy-1", "busy-2" }), ("hv-2", ["busy-3", "busy-4"]) })
            foreach (var g in guests) await fleet.Hypervisor(host).LaunchAsync(Guest(g, vcpus: 8, memoryMiB: 8192) with { Host = host }, CancellationToken.None);
        await fleet.ReportAllAsync();
        await ThreeHypervisors.Eventually(() => fleet.Scheduler.Hosts(), hs => hs.Count == 3 && hs.Single(h => h.Name == "hv-3").Power == "off");
        await Activate(fleet, "name: wake\nbalancer: power-saving\npowerSaving:\n  hostsInReserve: 0\n");
        await fleet.SampleAllAsync();
        return fleet;
    }

    [Fact]
    public async Task A_powered_on_host_boots_and_reports_before_any_guest_migrates_onto_it()
    {
        await using var fleet = await BusyWithHv3Off();

        var plan = await fleet.Scheduler.Preview();
        var on = Assert.Single(plan.PowerActions);
        Assert.Equal(("hv-3", "power-on", 1), (on.Host, on.Operation, on.Wave));
        Assert.NotEmpty(plan.Moves);
        Assert.All(plan.Moves, m => { Assert.Equal("hv-3", m.To); Assert.True(m.Wave > 1); });

        await fleet.Scheduler.Execute(plan.Id);
        var done = await Ended(fleet, plan.Id);
        Assert.Equal("SUCCEEDED", done.State);
        var onAt = Calls().Single(c => c.Verb == "on").At;
        var started = (await Events(fleet, "migration-started")).Where(e => plan.Moves.Any(m => m.Guest == e.Subject)).ToList();
        Assert.Equal(plan.Moves.Count, started.Count);
        // The host took 3 s to boot (it said off until then): nothing moved onto it before it reported as on.
        Assert.All(started, s => Assert.True(s.At >= onAt.AddSeconds(2.9), $"migration started {s.At:O}, power-on {onAt:O}"));
        foreach (var m in plan.Moves) Assert.Equal(["hv-3"], await WhereRuns(fleet, m.Guest));
    }

    [Fact]
    public async Task A_power_action_that_fails_stops_the_plan_and_every_guest_stays_where_it_runs()
    {
        _power.Fail("on");
        await using var fleet = await BusyWithHv3Off();
        var plan = await fleet.Scheduler.Preview();
        Assert.NotEmpty(plan.Moves);

        await fleet.Scheduler.Execute(plan.Id);
        var done = await Ended(fleet, plan.Id);
        Assert.Equal("FAILED", done.State);
        Assert.Contains("BMC of hv-3 refused chassis power on", done.Failure);
        Assert.Equal("failed", done.PowerActions.Single().Status);
        Assert.All(done.Moves, m => Assert.Equal("pending", m.Status));
        Assert.DoesNotContain(await Events(fleet, "migration-started"), e => plan.Moves.Any(m => m.Guest == e.Subject));
        Assert.Contains(await Events(fleet, "plan-failed"), e => e.Subject == plan.Id && e.Message.Contains("refused", StringComparison.Ordinal));
        foreach (var (g, host) in new[] { ("busy-1", "hv-1"), ("busy-2", "hv-1"), ("busy-3", "hv-2"), ("busy-4", "hv-2") })
            Assert.Equal([host], await WhereRuns(fleet, g));
    }

    public void Dispose() => _power.Dispose();
}
