using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Documents;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Planning;
using static KvmCluster.Policies.Tests.Build;

namespace KvmCluster.Policies.Tests.Planning;

/// <summary>Plans move offline what cannot move live, when the policy allows it, with the downtime shown.</summary>
public sealed class OfflinePlanTests
{
    private static readonly Guest WithLocalDisk = Guest("db-1", host: "hv-01") with
    {
        Disks = [new GuestDisk(DiskKind.Local, SizeGiB: 20) { UsedMiB = 4096 }],
        Usage = UsageHistory.Empty.WithObservedDirtyRate(30),
    };

    private static FleetSnapshot Fleet() => Build.Fleet([Host("hv-01") with { Maintenance = true }, Host("hv-02") with { Storage = HostStorage.None with { LocalFreeGiB = 100 } }], [WithLocalDisk]);

    [Fact]
    public void A_guest_with_a_local_disk_is_evacuated_offline_only_when_the_policy_allows_it_and_its_downtime_is_the_whole_move()
    {
        var context = new PlanningContext { Now = ScenarioTests.Now };
        var live = Rebalancer.Plan(Fleet(), Rules.Policy.Default, context);
        Assert.Empty(live.Migrations);
        Assert.Contains(live.Refused, r => r.Guest == "db-1" && r.Reason.Contains("block migration", StringComparison.Ordinal));

        var policy = Rules.Policy.Default with { Name = "offline", Migration = new Rules.MigrationSettings { AllowOffline = true } };
        var plan = Rebalancer.Plan(Fleet(), policy, context);
        Assert.True(plan.Migrations.Count() == 1, plan.ToText());
        var move = plan.Migrations.Single();
        Assert.True(move.Offline);
        Assert.Equal(("db-1", "hv-01", "hv-02"), (move.Guest, move.From, move.To));
        // Paused, it dirties nothing: the whole 4 GiB disk and 2 GiB of memory cross once, and that is the downtime.
        Assert.Contains(move.Reasons, r => r.StartsWith("offline: paused for the whole move, predicted downtime", StringComparison.Ordinal));
        Assert.True(move.Cost.TotalSeconds > 1);
        Assert.Contains("offline (paused", plan.ToText());
    }

    [Fact]
    public void The_policy_document_reads_and_writes_allowOffline()
    {
        var p = KvmCluster.Policies.Documents.PolicyDocument.Parse("name: cold\nmigration:\n  allowOffline: true\n");
        Assert.True(p.Migration.AllowOffline);
        Assert.Contains("allowOffline: true", KvmCluster.Policies.Documents.PolicyWriter.ToYaml(p));
        Assert.False(KvmCluster.Policies.Documents.PolicyDocument.Parse("name: warm\n").Migration.AllowOffline);
    }
}
