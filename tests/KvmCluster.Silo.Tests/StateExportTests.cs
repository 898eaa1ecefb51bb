using System.Text.Json;
using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Migrations;
using KvmCluster.Silo.Api;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// `kvmcluster state export|import` on three silos and a real Redis each: a fleet's records leave one cluster as a
/// JSON document (through the API's strict JSON reader) and arrive in another; a refused document changes nothing;
/// finished migration records expire.
/// </summary>
public sealed class StateExportTests
{
    private static readonly string Policy = "name: spread\nbalancer: evenly-distributed\nautomation: manual\nevenlyDistributed:\n  threshold: 5\n";

    [Fact]
    public async Task An_export_moves_policies_guests_plans_tokens_hosts_and_events_to_a_new_cluster_and_finished_migrations_expire()
    {
        FleetStateDocument exported;
        string migrationId;
        await using (var old = await ThreeHypervisors.StartAsync(migrationRetention: TimeSpan.FromSeconds(6)))
        {
            await old.ActivatePolicy(Policy);
            foreach (var n in new[] { "vm-a", "vm-b", "vm-c" }) await old.Scheduler.Place(ThreeHypervisors.Guest(n));
            await old.Client.GetGrain<IAccessGrain>(Cluster.Key).Create("ci", Role.Operator, new string('a', 64), "test");
            await old.Scheduler.SetLabels("hv-1", new LabelChange(new Dictionary<string, string> { ["zone"] = "b" }, null));
            await old.Scheduler.SetMaintenance("hv-2", true);
            var plan = await old.Scheduler.Preview();
            var vmA = (await old.Scheduler.Guests()).Single(g => g.Name == "vm-a");
            var started = await old.Scheduler.Migrate("vm-a", null, false);
            migrationId = started.Id;
            var migration = old.Client.GetGrain<IMigrationGrain>(migrationId);
            var done = await ThreeHypervisors.Eventually(() => migration.Get(), m => m!.Status is MigrationStatus.Completed or MigrationStatus.Failed);
            Assert.Equal(MigrationStatus.Completed, done!.Status);
            Assert.True(await MigrationIndex.Contains(old.Client, migrationId));

            exported = await old.Scheduler.ExportState();
            Assert.Equal(FleetStateDocument.CurrentFormat, exported.Format);
            Assert.Equal(["spread"], exported.Policies.Select(p => p.Name));
            Assert.Equal("spread", exported.ActivePolicy!.Name);
            Assert.Equal(["vm-a", "vm-b", "vm-c"], exported.Guests.Select(g => g.Spec.Name));
            Assert.NotEqual(vmA.Host, exported.Guests[0].Host);
            Assert.Contains(exported.Plans, p => p.Id == plan.Id);
            Assert.Equal(["ci"], exported.Tokens.Select(t => t.Token.Name));
            Assert.Contains(exported.Hosts, h => h.Name == "hv-1" && h.Labels["zone"] == "b");
            Assert.Contains(exported.Hosts, h => h.Name == "hv-2" && h.Maintenance);
            Assert.Contains(exported.Migrations, m => m.Id == migrationId && m.Status == MigrationStatus.Completed);
            Assert.Contains(exported.Events, e => e.Kind == "migration-completed");

            // Its time up, the finished record goes: out of the index (reads answer 404 without a grain) and storage.
            await ThreeHypervisors.Eventually(() => MigrationIndex.Contains(old.Client, migrationId), kept => !kept, TimeSpan.FromSeconds(60));
            Assert.Null(await migration.Get());
            Assert.DoesNotContain((await old.Scheduler.ExportState()).Migrations, m => m.Id == migrationId);
            Assert.Contains((await old.Client.GetGrain<IEventLogGrain>(Cluster.Key).Query(migrationId, "migration-completed", 0)), e => e.Subject == "vm-a" || e.Message.Contains(migrationId));
        }

        // The document as an operator handles it: JSON written by the API, read back by its strict reader.
        var json = JsonSerializer.Serialize(exported, ApiJson.Options);
        var read = JsonSerializer.Deserialize<FleetStateDocument>(json, ApiJson.Options)!;
        Assert.Equal(json, JsonSerializer.Serialize(read, ApiJson.Options));

        await using var fresh = await ThreeHypervisors.StartAsync();
        var access = fresh.Client.GetGrain<IAccessGrain>(Cluster.Key);

        // A refused document changes nothing, and names the field as the JSON spells it.
        var refusals = new (Func<FleetStateDocument, FleetStateDocument> Edit, string Field)[]
        {
            (d => d with { Format = "kvmcluster-state/0" }, "format"),
            (d => d with { Guests = [d.Guests[0] with { Spec = d.Guests[0].Spec with { VCpus = 0 } }, .. d.Guests.Skip(1)] }, "guests[0].spec.vCpus"),
            (d => d with { Guests = [.. d.Guests, d.Guests[0]] }, "guests[3].spec.name"),
            (d => d with { Guests = [null!, .. d.Guests] }, "guests[0]"),
            (d => d with { Policies = [d.Policies[0] with { Text = "name: spread\nbalancer: sideways\n" }] }, "policies[0].text"),
            (d => d with { ActivePolicy = new ActivePolicyRecord("spread", 9) }, "activePolicy"),
            (d => d with { Tokens = [d.Tokens[0] with { SecretHash = "not-a-hash" }] }, "tokens[0].secretHash"),
            (d => d with { Plans = [d.Plans[0] with { State = "DONE" }] }, "plans[0].state"),
            (d => d with { Hosts = [new HostSettings("hv-1", false, new Dictionary<string, string> { ["Bad Key"] = "x" }, [])] }, "hosts[0].labels"),
        };
        foreach (var (edit, field) in refusals)
        {
            var refused = await Assert.ThrowsAsync<ClusterException>(() => fresh.Scheduler.ImportState(edit(read)));
            Assert.Equal(ProblemKind.Invalid, refused.Kind);
            Assert.Equal(field, refused.Field);
        }
        Assert.Empty(await access.List());
        Assert.Null(await fresh.Client.GetGrain<IPolicyGrain>(Cluster.Key).Active());

        var imported = await fresh.Scheduler.ImportState(read);
        Assert.Equal((1, 3, exported.Plans.Count, 1, exported.Events.Count), (imported.Policies, imported.Guests, imported.Plans, imported.Tokens, imported.Events));
        Assert.Contains(imported.Notes, n => n.Contains("migration records are not imported", StringComparison.Ordinal));
        var again = await fresh.Scheduler.ExportState();
        Assert.Equal(exported.Policies, again.Policies);
        Assert.Equal(exported.ActivePolicy, again.ActivePolicy);
        Assert.Equal(exported.Tokens.Select(t => (t.SecretHash, t.Token.Name, t.Token.Role)), again.Tokens.Select(t => (t.SecretHash, t.Token.Name, t.Token.Role)));
        Assert.Equal(exported.Plans.Select(p => (p.Id, p.State)), again.Plans.Take(exported.Plans.Count).Select(p => (p.Id, p.State)));
        Assert.Equal(exported.Guests.Select(g => (g.Spec, g.Host)), again.Guests.Select(g => (g.Spec, g.Host)));
        Assert.All(again.Guests, g => Assert.Equal("imported", g.History[^1].Kind));
        // Old events first, in order, then what this cluster recorded (the import itself among them).
        Assert.Equal(exported.Events.Select(e => (e.Kind, e.Message)), again.Events.Take(exported.Events.Count).Select(e => (e.Kind, e.Message)));
        Assert.Equal(Enumerable.Range(1, again.Events.Count).Select(i => (long)i), again.Events.Select(e => e.Sequence));
        Assert.Contains(again.Events, e => e.Kind == "state-imported");
        Assert.Equal("b", (await fresh.Scheduler.Hosts()).Single(h => h.Name == "hv-1").Labels["zone"]);
        Assert.True((await fresh.Scheduler.Hosts()).Single(h => h.Name == "hv-2").Facts.Maintenance);
        Assert.NotNull(await access.Find(new string('a', 64)));

        // Once is enough: a second import meets the first's records.
        var twice = await Assert.ThrowsAsync<ClusterException>(() => fresh.Scheduler.ImportState(read));
        Assert.Equal(ProblemKind.Conflict, twice.Kind);

        // These simulated guests died with the old cluster: their records say so once hosts have reported without them.
        await ThreeHypervisors.Eventually(() => fresh.Scheduler.Guests(), gs => gs.All(g => g.Status == GuestStatus.Lost), TimeSpan.FromSeconds(90));
    }
}
