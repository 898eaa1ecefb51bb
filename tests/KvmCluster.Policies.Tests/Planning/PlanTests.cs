using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Documents;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Planning;
using static KvmCluster.Policies.Tests.Build;
using PolicyT = KvmCluster.Policies.Rules.Policy;

namespace KvmCluster.Policies.Tests.Planning;

public class PlanTests
{
    private static readonly PlanningContext Ctx = new() { Now = ScenarioTests.Now };

    [Fact]
    public void Plan_life_cycle_allows_only_the_documented_transitions()
    {
        var plan = new Plan { Id = "p", Policy = "x" };
        var done = plan.MoveTo(PlanState.Approved).MoveTo(PlanState.Executing).MoveTo(PlanState.Succeeded);
        Assert.Equal(PlanState.Succeeded, done.State);
        Assert.Equal(PlanState.Superseded, plan.MoveTo(PlanState.Superseded).State);
        Assert.Equal(PlanState.Cancelled, plan.MoveTo(PlanState.Approved).MoveTo(PlanState.Cancelled).State);
        Assert.Throws<InvalidOperationException>(() => plan.MoveTo(PlanState.Executing));
        Assert.Throws<InvalidOperationException>(() => done.MoveTo(PlanState.Executing));
        Assert.Throws<InvalidOperationException>(() => plan.MoveTo(PlanState.Approved).MoveTo(PlanState.Executing).MoveTo(PlanState.Superseded));
    }

    [Fact]
    public void Steady_load_does_not_ping_pong_across_rounds()
    {
        var dir = Path.Combine(ScenarioTests.ScenarioRoot(), "overload-relief");
        var fleet = FleetDocument.Parse(File.ReadAllText(Path.Combine(dir, "fleet.yaml")));
        var policy = PolicyDocument.Parse(File.ReadAllText(Path.Combine(dir, "policy.yaml")));
        var first = Rebalancer.Plan(fleet, policy, Ctx);
        Assert.NotEmpty(first.Migrations);
        var moved = first.Migrations.Select(m => (m.Guest, m.From, m.To)).ToHashSet();
        var now = fleet;
        var plan = first;
        // Same load, later rounds, recent moves forgotten: nothing moves back, and it settles.
        for (var round = 1; round <= 4; round++)
        {
            now = PlanApplication.Apply(now, plan);
            plan = Rebalancer.Plan(now, policy, Ctx with { Now = Ctx.Now.AddHours(round) });
            foreach (var m in plan.Migrations)
                Assert.DoesNotContain((m.Guest, m.To, m.From), moved);
        }
        Assert.Empty(plan.Migrations);
    }

    [Fact]
    public void Recently_moved_guests_are_left_alone()
    {
        var dir = Path.Combine(ScenarioTests.ScenarioRoot(), "overload-relief");
        var fleet = FleetDocument.Parse(File.ReadAllText(Path.Combine(dir, "fleet.yaml")));
        var policy = PolicyDocument.Parse(File.ReadAllText(Path.Combine(dir, "policy.yaml")));
        var recent = fleet.Guests.Where(g => g.Host == "hv-01").Select(g => new RecentMigration(g.Name, "hv-02", "hv-01", Ctx.Now.AddMinutes(-5))).ToList();
        var plan = Rebalancer.Plan(fleet, policy, Ctx with { RecentMigrations = recent });
        Assert.DoesNotContain(plan.Migrations, m => m.From == "hv-01");
        var later = Rebalancer.Plan(fleet, policy, Ctx with { RecentMigrations = recent, Now = Ctx.Now.AddHours(1) });
        Assert.Contains(later.Migrations, m => m.From == "hv-01");
    }

    [Fact]
    public void A_swap_between_two_full_hosts_goes_through_a_third_host()
    {
        // a and b each fill their host; the proposals swap them, which no direct order allows.
        var small = SkylakeCpu with { Threads = 2 }; // 8 vCPU at over-commit 4
        var fleet = Fleet([Host("hv-a", small), Host("hv-b", small), Host("hv-c", small)],
            [Guest("a", vcpus: 8, host: "hv-a"), Guest("b", vcpus: 8, host: "hv-b")]);
        var proposals = new BalancerResult();
        proposals.Moves.Add(new ProposedMove(fleet.Guests[0], "hv-a", "hv-b", ["swap"]));
        proposals.Moves.Add(new ProposedMove(fleet.Guests[1], "hv-b", "hv-a", ["swap"]));
        var plan = PlanBuilder.Build(fleet, PolicyT.Default, proposals, Ctx);
        Assert.Empty(plan.Refused);
        Assert.Equal(["a hv-a→hv-c", "b hv-b→hv-a", "a hv-c→hv-b"], plan.Migrations.Select(m => $"{m.Guest} {m.From}→{m.To}"));
        Assert.Equal([1, 2, 3], plan.Migrations.Select(m => m.Wave));
        var after = PlanApplication.Apply(fleet, plan);
        Assert.Equal("hv-b", after.FindGuest("a")!.Host);
        Assert.Equal("hv-a", after.FindGuest("b")!.Host);

        // Without a third host with room the swap is refused, with a reason.
        var two = Fleet([Host("hv-a", small), Host("hv-b", small)], fleet.Guests);
        var refused = PlanBuilder.Build(two, PolicyT.Default, proposals, Ctx);
        Assert.Empty(refused.Migrations);
        Assert.All(refused.Refused, r => Assert.Contains("no transient-safe order", r.Reason));
    }

    [Fact]
    public void Waves_respect_per_host_and_cluster_concurrency()
    {
        var hosts = Enumerable.Range(0, 8).Select(i => Host($"hv-{i}")).ToList();
        var guests = Enumerable.Range(0, 12).Select(i => Guest($"g{i}", host: "hv-0")).Concat(Enumerable.Range(0, 6).Select(i => Guest($"k{i}", host: $"hv-{1 + i}"))).ToList();
        var fleet = Fleet(hosts, guests);
        var proposals = new BalancerResult();
        foreach (var g in guests.Where(g => g.Host == "hv-0")) proposals.Moves.Add(new ProposedMove(g, "hv-0", $"hv-{1 + int.Parse(g.Name[1..]) % 7}", ["spread"]));
        foreach (var g in guests.Where(g => g.Name.StartsWith('k'))) proposals.Moves.Add(new ProposedMove(g, g.Host!, "hv-7", ["gather"]));
        var policy = PolicyT.Default with { Migration = new() { MaxOutboundPerHost = 2, MaxInboundPerHost = 2, MaxConcurrent = 5 } };
        var plan = PlanBuilder.Build(fleet, policy, proposals, Ctx);
        Assert.Equal(18, plan.Migrations.Count());
        foreach (var wave in plan.Migrations.GroupBy(m => m.Wave))
        {
            Assert.True(wave.Count() <= 5);
            Assert.All(wave.GroupBy(m => m.From), g => Assert.True(g.Count() <= 2));
            Assert.All(wave.GroupBy(m => m.To), g => Assert.True(g.Count() <= 2));
        }
    }

    [Fact]
    public void Power_off_of_a_host_that_still_runs_guests_is_refused()
    {
        var fleet = Fleet([Host("hv-a"), Host("hv-b")], [Guest("x", host: "hv-a")]);
        var proposals = new BalancerResult();
        proposals.Power.Add(new ProposedPower("hv-a", PowerOperation.PowerOff, ["test"]));
        proposals.Power.Add(new ProposedPower("hv-b", PowerOperation.PowerOff, ["test"]));
        var plan = PlanBuilder.Build(fleet, PolicyT.Default, proposals, Ctx);
        Assert.Equal(["hv-b"], plan.PowerActions.Select(p => p.Host));
        Assert.Contains(plan.Refused, r => r.Reason.Contains("would still run x"));
    }
}
