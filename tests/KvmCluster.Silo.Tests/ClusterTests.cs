using KvmCluster.Grains.Contracts;
using Orleans.Runtime;

namespace KvmCluster.Silo.Tests;

public sealed class ClusterTests
{
    [Fact]
    public async Task Host_grains_are_pinned_to_their_hypervisors_silo_and_refused_elsewhere()
    {
        await using var fleet = await ThreeHypervisors.StartAsync();
        foreach (var silo in fleet.Cluster.Silos)
            Assert.Equal(silo.SiloAddress.ToParsableString(), await fleet.Host(ThreeHypervisors.HypervisorOf(silo.Name)).Silo());
        await Assert.ThrowsAnyAsync<OrleansException>(() => fleet.Host("hv-99").Silo());
    }

    [Fact]
    public async Task Placement_through_the_scheduler_launches_each_guest_on_exactly_the_host_it_chose()
    {
        await using var fleet = await ThreeHypervisors.StartAsync();
        var chosen = new Dictionary<string, string>();
        for (var i = 0; i < 12; i++)
        {
            var placed = await fleet.Scheduler.Place(ThreeHypervisors.Guest($"vm-{i:00}"));
            Assert.NotNull(placed.Host);
            chosen[placed.Guest] = placed.Host!;
        }
        // The default policy spreads: every hypervisor got some guests.
        Assert.Equal(3, chosen.Values.Distinct().Count());
        foreach (var (guest, host) in chosen)
            Assert.Equal([host], await fleet.WhereRuns(guest));
        var views = await fleet.Scheduler.Guests();
        Assert.Equal(12, views.Count);
        Assert.All(views, v => Assert.Equal(chosen[v.Name], v.Host));
        var record = await fleet.Client.GetGrain<IGuestGrain>("vm-00").Get();
        Assert.Equal(chosen["vm-00"], (await ThreeHypervisors.Eventually(() => fleet.Client.GetGrain<IGuestGrain>("vm-00").Get(), v => v?.Status == GuestStatus.Running))!.Host);
        Assert.NotNull(record);

        var duplicate = await Assert.ThrowsAsync<ClusterException>(() => fleet.Scheduler.Place(ThreeHypervisors.Guest("vm-00")));
        Assert.Equal(ProblemKind.Conflict, duplicate.Kind);
        var tooBig = await Assert.ThrowsAsync<ClusterException>(() => fleet.Scheduler.Place(ThreeHypervisors.Guest("huge", memoryMiB: 1024 * 1024)));
        Assert.Contains("no host can run", tooBig.Detail);
    }

    [Fact]
    public async Task A_rebalancing_round_executes_its_migrations_and_every_location_follows()
    {
        await using var fleet = await ThreeHypervisors.StartAsync();
        // Load one hypervisor directly (as if the guests were started by hand before KvmCluster).
        for (var i = 0; i < 6; i++) await fleet.Host("hv-0").Launch(ThreeHypervisors.Guest($"vm-{i}", vcpus: 4, memoryMiB: 4096));
        await fleet.ActivatePolicy("name: spread\nbalancer: evenly-distributed\nautomation: manual\nevenlyDistributed:\n  threshold: 5\n  maxMovesPerRound: 4\n");
        // Nothing moves on guesses: until the hosts have sampled their guests, the hold window has no history.
        await fleet.ReportAllAsync();
        var unsampled = await fleet.Scheduler.Preview();
        Assert.Empty(unsampled.Moves);
        Assert.Contains(unsampled.Notes, n => n.Contains("not enough usage history", StringComparison.Ordinal));
        await fleet.SampleAllAsync();

        var plan = await fleet.Scheduler.Preview();
        Assert.Equal("RECOMMENDED", plan.State);
        Assert.NotEmpty(plan.Moves);
        Assert.All(plan.Moves, m => { Assert.Equal("hv-0", m.From); Assert.NotEmpty(m.Reasons); });

        await fleet.Scheduler.Execute(plan.Id);
        var done = await ThreeHypervisors.Eventually(() => fleet.Scheduler.Plan(plan.Id), p => p.State is "SUCCEEDED" or "FAILED");
        Assert.Equal("SUCCEEDED", done.State);
        foreach (var move in done.Moves)
        {
            Assert.Equal([move.To], await fleet.WhereRuns(move.Guest));
            var migration = await fleet.Client.GetGrain<IMigrationGrain>(move.Migration!).Get();
            Assert.Equal(MigrationStatus.Completed, migration!.Status);
            var guest = await fleet.Client.GetGrain<IGuestGrain>(move.Guest).Get();
            Assert.Equal(move.To, guest!.Host);
        }
        var events = await fleet.Client.GetGrain<IEventLogGrain>(Cluster.Key).Query(null, "migration-completed", 100);
        Assert.Equal(done.Moves.Count, events.Count);
    }

    [Fact]
    public async Task Killing_the_destination_mid_migration_fails_it_and_the_guest_keeps_running_on_its_source()
    {
        // Scale 1: a 4 GiB guest at 200 MiB/s takes about 20 s — long enough to kill the destination mid-way.
        await using var fleet = await ThreeHypervisors.StartAsync(timeScale: 1);
        await fleet.Host("hv-0").Launch(ThreeHypervisors.Guest("vm-a", memoryMiB: 4096));
        await fleet.ReportAllAsync();
        await fleet.ActivatePolicy("name: slow\nmigration:\n  bandwidthMiBps: 200\n");

        var started = await fleet.Scheduler.Migrate("vm-a", "hv-2", false);
        Assert.Equal(MigrationStatus.Migrating, started.Status);
        var migration = fleet.Client.GetGrain<IMigrationGrain>(started.Id);
        await ThreeHypervisors.Eventually(() => migration.Get(), m => m!.Progress is { TransferredMiB: > 0 });

        await fleet.Cluster.KillSiloAsync(fleet.Cluster.Silos.Single(s => s.Name == "Silo_2"));
        var ended = await ThreeHypervisors.Eventually(() => migration.Get(), m => m!.Status is MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled);
        Assert.Equal(MigrationStatus.Failed, ended!.Status);
        Assert.Equal(["hv-0"], await fleet.WhereRuns("vm-a"));
        var guest = await ThreeHypervisors.Eventually(() => fleet.Client.GetGrain<IGuestGrain>("vm-a").Get(), g => g!.Status == GuestStatus.Running);
        Assert.Equal("hv-0", guest!.Host);
    }

    [Fact]
    public async Task Cancelling_a_migration_leaves_the_guest_on_its_source()
    {
        await using var fleet = await ThreeHypervisors.StartAsync(timeScale: 1);
        await fleet.Host("hv-1").Launch(ThreeHypervisors.Guest("vm-c", memoryMiB: 4096));
        await fleet.ReportAllAsync();
        await fleet.ActivatePolicy("name: slow\nmigration:\n  bandwidthMiBps: 200\n");
        var started = await fleet.Scheduler.Migrate("vm-c", null, false);
        Assert.NotEqual("hv-1", started.Order.To);
        var migration = fleet.Client.GetGrain<IMigrationGrain>(started.Id);
        await migration.Cancel();
        var ended = await ThreeHypervisors.Eventually(() => migration.Get(), m => m!.Status is MigrationStatus.Cancelled or MigrationStatus.Failed or MigrationStatus.Completed);
        Assert.Equal(MigrationStatus.Cancelled, ended!.Status);
        Assert.Equal(["hv-1"], await fleet.WhereRuns("vm-c"));
    }

    [Fact]
    public async Task Guests_of_a_dead_hypervisor_are_reported_unreachable_and_left_out_of_plans()
    {
        await using var fleet = await ThreeHypervisors.StartAsync();
        await fleet.Host("hv-1").Launch(ThreeHypervisors.Guest("vm-x"));
        await fleet.ReportAllAsync();
        // Reports are one-way and the roster is written behind: wait until the scheduler has taken this one and its
        // roster in Redis holds it before pulling the plug (the scheduler itself may live on the silo that dies).
        await ThreeHypervisors.Eventually(() => fleet.Scheduler.Guests(), g => g.Any(x => x.Name == "vm-x"));
        await ThreeHypervisors.Eventually(() => fleet.StoredStateContains("roster", "vm-x"), stored => stored);
        await fleet.Cluster.KillSiloAsync(fleet.Cluster.Silos.Single(s => s.Name == "Silo_1"));
        var guests = await ThreeHypervisors.Eventually(() => fleet.Scheduler.Guests(), g => g.Any(x => x.Name == "vm-x" && x.Status == GuestStatus.Unreachable));
        Assert.Equal("hv-1", guests.Single().Host);
        var hosts = await fleet.Scheduler.Hosts();
        Assert.False(hosts.Single(h => h.Name == "hv-1").Reachable);
        var snapshot = await fleet.Scheduler.Snapshot();
        Assert.DoesNotContain(snapshot.Hosts, h => h.Name == "hv-1");
        Assert.DoesNotContain(snapshot.Guests, g => g.Name == "vm-x");
    }

    [Fact]
    public async Task A_migration_persisted_in_redis_completes_after_the_silo_running_it_and_the_scheduler_dies()
    {
        await using var fleet = await ThreeHypervisors.StartAsync(timeScale: 1);
        // The scheduler (and the migration grains it starts, placed next to it) run on one silo; the guest moves
        // between the other two, so killing the scheduler's silo leaves the transfer itself running.
        var management = fleet.Client.GetGrain<IManagementGrain>(0);
        var (doomed, source, destination) = await fleet.SchedulersSiloAndTheOtherTwo();
        var schedulerSilo = doomed.SiloAddress;
        await fleet.Host(source).Launch(ThreeHypervisors.Guest("vm-r", memoryMiB: 2048));
        await fleet.ReportAllAsync();
        await fleet.ActivatePolicy("name: slow\nmigration:\n  bandwidthMiBps: 200\n"); // about 10 s at scale 1

        var started = await fleet.Scheduler.Migrate("vm-r", destination, false);
        var migration = fleet.Client.GetGrain<IMigrationGrain>(started.Id);
        Assert.Equal(schedulerSilo, await management.GetActivationAddress(migration));
        await ThreeHypervisors.Eventually(() => migration.Get(), m => m!.Progress is { TransferredMiB: > 0 });

        await fleet.Cluster.KillSiloAsync(doomed);
        await fleet.Cluster.StartAdditionalSiloAsync(); // the dead hypervisor's replacement

        // Woken from Redis (by its reminder or by the source reporting the transfer's end) on a live silo, the
        // migration finishes the switch: the guest runs on the destination only, and every record agrees.
        var ended = await ThreeHypervisors.Eventually(() => migration.Get(), m => m!.Status is MigrationStatus.Completed or MigrationStatus.Failed,
            TimeSpan.FromSeconds(60));
        Assert.Equal(MigrationStatus.Completed, ended!.Status);
        Assert.NotEqual(schedulerSilo, await management.GetActivationAddress(migration));
        Assert.Equal([destination], await fleet.WhereRuns("vm-r"));
        var guest = await ThreeHypervisors.Eventually(() => fleet.Client.GetGrain<IGuestGrain>("vm-r").Get(), g => g!.Host == destination);
        Assert.Equal(GuestStatus.Running, guest!.Status);
        await ThreeHypervisors.Eventually(() => fleet.Scheduler.Guests(), gs => gs.Any(g => g.Name == "vm-r" && g.Host == destination && g.Status == GuestStatus.Running));
    }

    [Fact]
    public async Task A_scheduler_restarted_in_the_middle_of_a_wave_resumes_the_same_plan_from_its_executor_state()
    {
        await using var fleet = await ThreeHypervisors.StartAsync(timeScale: 1);
        var management = fleet.Client.GetGrain<IManagementGrain>(0);
        var (doomed, source, destination) = await fleet.SchedulersSiloAndTheOtherTwo();
        var schedulerSilo = doomed.SiloAddress;
        foreach (var g in new[] { "w-1", "w-2" }) await fleet.Host(source).Launch(ThreeHypervisors.Guest(g, memoryMiB: 2048));
        await fleet.ReportAllAsync();
        // One migration out of a host at a time (two waves), about 5 s each, never onto the scheduler's hypervisor.
        await fleet.ActivatePolicy($"name: evacuate\nfilters:\n  - excludeHosts: [{ThreeHypervisors.HypervisorOf(doomed.Name)}]\nmigration:\n  bandwidthMiBps: 400\n  maxOutboundPerHost: 1\n");
        await fleet.Scheduler.SetMaintenance(source, true);
        var plan = await fleet.Scheduler.Preview();
        Assert.Equal([1, 2], plan.Moves.Select(m => m.Wave).Order());
        Assert.All(plan.Moves, m => Assert.Equal(destination, m.To));

        await fleet.Scheduler.Execute(plan.Id);
        var first = plan.Moves.Single(m => m.Wave == 1);
        var migration = fleet.Client.GetGrain<IMigrationGrain>($"{plan.Id}-{first.Step}");
        await ThreeHypervisors.Eventually(() => migration.Get(), m => m?.Progress is { TransferredMiB: > 0 });
        var before = await fleet.Scheduler.Plan(plan.Id);
        Assert.Equal(("EXECUTING", 1, "running"), (before.State, before.Wave, before.Moves.Single(m => m.Step == first.Step).Status));

        var killedAt = DateTimeOffset.UtcNow;
        await fleet.Cluster.KillSiloAsync(doomed);
        await fleet.Cluster.StartAdditionalSiloAsync();

        var done = await ThreeHypervisors.Eventually(() => fleet.Scheduler.Plan(plan.Id), p => p.State is "SUCCEEDED" or "FAILED", TimeSpan.FromSeconds(90));
        Assert.Equal("SUCCEEDED", done.State);
        Assert.NotEqual(schedulerSilo, await management.GetActivationAddress(fleet.Scheduler));
        // The same plan went on where it was: the same migrations, the first not started again, the second after it.
        Assert.Equal(before.Moves.Select(m => $"{plan.Id}-{m.Step}"), done.Moves.Select(m => m.Migration));
        Assert.All(done.Moves, m => Assert.Equal("completed", m.Status));
        var events = await fleet.Client.GetGrain<IEventLogGrain>(Cluster.Key).Query(null, null, 0);
        Assert.Contains(events, e => e.Kind == "plan-resumed" && e.Subject == plan.Id);
        var startedSince = events.Where(e => e.Kind == "migration-started" && e.At >= killedAt).Select(e => e.Subject).ToList();
        Assert.Equal([plan.Moves.Single(m => m.Wave == 2).Guest], startedSince);
        foreach (var m in done.Moves)
        {
            Assert.Equal(MigrationStatus.Completed, (await fleet.Client.GetGrain<IMigrationGrain>(m.Migration!).Get())!.Status);
            Assert.Equal([destination], await fleet.WhereRuns(m.Guest));
        }
    }

    [Fact]
    public async Task A_guest_can_be_migrated_right_after_it_was_placed_before_its_host_reports_it()
    {
        await using var fleet = await ThreeHypervisors.StartAsync();
        var placed = await fleet.Scheduler.Place(ThreeHypervisors.Guest("fresh-1"));
        // No report in between: the scheduler knows the guest only from its own placement.
        var to = placed.Host == "hv-0" ? "hv-1" : "hv-0";
        var started = await fleet.Scheduler.Migrate("fresh-1", to, false);
        var ended = await ThreeHypervisors.Eventually(() => fleet.Client.GetGrain<IMigrationGrain>(started.Id).Get(), m => m!.Status is MigrationStatus.Completed or MigrationStatus.Failed);
        Assert.Equal(MigrationStatus.Completed, ended!.Status);
        Assert.Equal([to], await fleet.WhereRuns("fresh-1"));
    }
}
