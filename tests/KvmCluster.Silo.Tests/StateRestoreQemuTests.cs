using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using KvmCluster.Silo.Tests.Hosts;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// Losing Redis for good, on separate hosts with real QEMU guests: the export taken before is imported into the
/// cluster that starts on an empty Redis. The guests that ran on, untouched, are running where they were; the one whose
/// QEMU died meanwhile is reported lost; the policy, plans and tokens are back.
/// </summary>
[Collection("qemu")]
public sealed class StateRestoreQemuTests
{
    [Fact]
    public async Task After_redis_is_lost_an_import_restores_the_records_and_reconciliation_finds_what_still_runs()
    {
        _ = TestGuest.Kernel;
        await using var cluster = await NamespaceCluster.StartAsync(["r1", "r2"], "qemu");
        try
        {
            using (var policy = new StringContent("name: kept\nbalancer: evenly-distributed\nautomation: manual\n", Encoding.UTF8, "application/yaml"))
            using (var submitted = await cluster.Api().PostAsync("/api/policies", policy))
                Assert.True(submitted.IsSuccessStatusCode, await submitted.Content.ReadAsStringAsync());
            await cluster.PostAsync("/api/policies/kept/activate", new { });
            var guests = new[] { "keep-1", "keep-2", "dies-1" };
            foreach (var g in guests)
                await cluster.PostAsync("/api/guests", new Dictionary<string, object?>
                {
                    ["name"] = g,
                    ["vCpus"] = 1,
                    ["memoryMiB"] = 128,
                    ["boot"] = new { kernel = TestGuest.Kernel, append = "buf=4 rate=2 seed=1" },
                });
            await cluster.PostAsync("/api/tokens", new { name = "backup-reader", role = "viewer" });
            await cluster.PostAsync("/api/hosts/r2/labels", new { set = new Dictionary<string, string> { ["zone"] = "b" } });
            var plan = (await cluster.PostAsync("/api/plans", new { })).GetProperty("id").GetString()!;
            var where = await NamespaceCluster.Until(() => Running(cluster), r => r.Count == 3, TimeSpan.FromSeconds(60), "three guests running");
            var pids = guests.ToDictionary(g => g, g => cluster.Qemus(g).Single().Pid);

            using var exportResponse = await cluster.Api().GetAsync("/api/state");
            var document = await exportResponse.Content.ReadAsStringAsync();
            Assert.True(exportResponse.IsSuccessStatusCode, document);

            // Every silo dies (kill -9: their QEMUs live on), Redis is lost for good, and one guest dies meanwhile.
            foreach (var h in cluster.Hosts) cluster.KillSilo(h);
            await cluster.WipeRedisAsync();
            Process.GetProcessById(pids["dies-1"]).Kill();
            foreach (var h in cluster.Hosts) cluster.StartSilo(h);
            await cluster.WaitReachableAsync(cluster.Hosts, TimeSpan.FromSeconds(90));
            using (var none = await cluster.Api().GetAsync("/api/policies/active")) Assert.Equal(System.Net.HttpStatusCode.NotFound, none.StatusCode); // nothing survived in Redis

            using var importResponse = await cluster.Api().PostAsync("/api/state", new StringContent(document, Encoding.UTF8, "application/json"));
            var imported = await importResponse.Content.ReadAsStringAsync();
            Assert.True(importResponse.IsSuccessStatusCode, imported);
            Assert.Equal(3, JsonDocument.Parse(imported).RootElement.GetProperty("guests").GetInt32());

            // The survivors run where they ran, in the QEMU that never stopped; the dead one is found lost.
            var settled = await NamespaceCluster.Until(() => Statuses(cluster),
                s => s.GetValueOrDefault("dies-1").Status == "lost" && s.GetValueOrDefault("keep-1").Status == "running" && s.GetValueOrDefault("keep-2").Status == "running",
                TimeSpan.FromSeconds(120), "survivors running, the dead guest lost");
            foreach (var g in new[] { "keep-1", "keep-2" })
            {
                Assert.Equal(where[g], settled[g].Host);
                Assert.Equal(pids[g], cluster.Qemus(g).Single().Pid);
            }
            Assert.Equal("kept", (await cluster.GetAsync<JsonElement>("/api/policies/active")).GetProperty("name").GetString());
            Assert.Contains((await cluster.GetAsync<JsonElement>("/api/plans")).EnumerateArray(), p => p.GetProperty("id").GetString() == plan);
            Assert.Contains((await cluster.GetAsync<JsonElement>("/api/tokens")).EnumerateArray(), t => t.GetProperty("name").GetString() == "backup-reader");
            Assert.Equal("b", (await cluster.GetAsync<JsonElement>("/api/hosts/r2")).GetProperty("labels").GetProperty("zone").GetString());
            var events = (await cluster.GetAsync<JsonElement>("/api/events?limit=10000")).EnumerateArray().Select(e => (Kind: e.GetProperty("kind").GetString(), Subject: e.GetProperty("subject").GetString())).ToList();
            Assert.Contains(("guest-lost", "dies-1"), events);
            Assert.DoesNotContain(events, e => e.Kind is "guest-lost" or "guest-running-twice" && e.Subject != "dies-1");
            Assert.Contains(("plan-recommended", plan), events); // the old cluster's history came back
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException($"{e}\n{cluster.AllLogs("state-restore")}");
        }
        catch (Xunit.Sdk.XunitException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\n{cluster.AllLogs("state-restore")}");
        }
        finally
        {
            foreach (var g in new[] { "keep-1", "keep-2", "dies-1" })
                foreach (var (_, pid) in cluster.Qemus(g)) try { Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { }
        }
    }

    private static async Task<Dictionary<string, string>> Running(NamespaceCluster cluster) =>
        (await Statuses(cluster)).Where(s => s.Value.Status == "running" && s.Value.Host is not null).ToDictionary(s => s.Key, s => s.Value.Host!);

    private static async Task<Dictionary<string, (string? Host, string Status)>> Statuses(NamespaceCluster cluster)
    {
        try
        {
            var list = await cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>("/api/guests", h));
            return list.EnumerateArray().ToDictionary(g => g.GetProperty("name").GetString()!, g => (g.GetProperty("host").GetString(), g.GetProperty("status").GetString()!));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException) { return []; }
    }
}
