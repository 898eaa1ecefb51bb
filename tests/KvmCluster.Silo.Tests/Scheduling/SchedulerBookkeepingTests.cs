using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Scheduling;
using KvmCluster.Policies.Planning;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Silo.Tests.Scheduling;

/// <summary>The scheduler's plan book and its migrations under way: the rules they keep, without a cluster.</summary>
public sealed class SchedulerBookkeepingTests
{
    private static PlanView Plan(string id, PlanState state) =>
        new(id, "p", state.Upper(), DateTimeOffset.UnixEpoch, [], [], [], []);

    [Fact]
    public void A_new_plan_supersedes_recommendations_only_and_trimming_never_drops_an_approved_plan()
    {
        var state = new SchedulerState();
        var book = new PlanBook(() => state, kept: 3);
        book.Add(Plan("a", PlanState.Recommended));
        book.SetState("a", PlanState.Approved);
        book.Add(Plan("b", PlanState.Recommended));
        book.Add(Plan("c", PlanState.Recommended));
        Assert.Equal(["APPROVED", "SUPERSEDED", "RECOMMENDED"], state.Plans.Select(p => p.State));
        book.Add(Plan("d", PlanState.Recommended));
        // Four plans, three kept: the oldest finished one (b) goes, the approved one (a) stays although it is older.
        Assert.Equal(["a", "c", "d"], state.Plans.Select(p => p.Id));
        Assert.Equal("a", book.Busy?.Id);
        Assert.Throws<ClusterException>(() => book.Find("b"));
    }

    [Fact]
    public void Imported_plans_come_first_and_an_executing_one_comes_back_failed()
    {
        var state = new SchedulerState();
        var book = new PlanBook(() => state, kept: 10);
        book.Add(Plan("mine", PlanState.Recommended));
        book.Import([Plan("old", PlanState.Executing), Plan("older", PlanState.Succeeded)]);
        Assert.Equal(["old", "older", "mine"], state.Plans.Select(p => p.Id));
        Assert.Equal(["FAILED", "SUCCEEDED", "SUPERSEDED"], state.Plans.Select(p => p.State));
        Assert.StartsWith("interrupted", state.Plans[0].Failure);
        Assert.Null(book.Busy);
    }

    [Fact]
    public void A_migration_is_cleared_only_by_its_own_end_and_the_limits_name_what_runs()
    {
        var state = new SchedulerState();
        var migrations = new MigrationsUnderWay(() => state);
        var settings = new MigrationSettings { MaxOutboundPerHost = 1, MaxInboundPerHost = 2, MaxConcurrent = 3 };
        MigrationOrder Order(string guest, string from, string to) => MigrationOrder.For(settings, TestGuest(guest, from), to, null, []);
        migrations.Started("m1", Order("g1", "hv-a", "hv-b"));
        Assert.Null(migrations.LimitBroken(settings, "hv-c", "hv-b"));
        Assert.Contains("migration.maxOutboundPerHost) and hv-a sends g1", migrations.LimitBroken(settings, "hv-a", "hv-c"));
        migrations.Started("m2", Order("g2", "hv-c", "hv-b"));
        Assert.Contains("migration.maxInboundPerHost) and hv-b receives g1, g2", migrations.LimitBroken(settings, "hv-d", "hv-b"));
        migrations.Started("m3", Order("g3", "hv-d", "hv-e"));
        Assert.Contains("migration.maxConcurrent) and 3 run: g1, g2, g3", migrations.LimitBroken(settings, "hv-x", "hv-y"));

        // A late end of an older migration of g1 leaves the newer one.
        migrations.Ended("g1", "m0");
        Assert.Equal("m1", migrations.Of("g1")?.Id);
        migrations.Ended("g1", "m1");
        Assert.False(migrations.Involves("g1"));
        Assert.Equal(["g2", "g3"], migrations.InFlight().Select(m => m.Guest));
    }

    private static KvmCluster.Policies.Model.Guest TestGuest(string name, string host) =>
        new() { Name = name, VCpus = 1, MemoryMiB = 256, Host = host };
}
