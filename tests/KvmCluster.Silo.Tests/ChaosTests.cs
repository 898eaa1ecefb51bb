using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using KvmCluster.Silo.Tests.Hosts;
using Xunit.Abstractions;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// Chaos on separate hosts with the simulated driver: three silos and Redis in network namespaces; 24 rounds of a
/// migration with a random silo killed (kill -9) 0–2 s after it started and started again, and Redis killed and
/// started again from its append-only file while guests are being placed. What was acknowledged must survive all of it.
/// </summary>
[Collection("qemu")] // heavy: never beside the QEMU tests' timing-sensitive checks
public sealed class ChaosTests(ITestOutputHelper output)
{
    private const string Policy = "name: chaos\nmigration:\n  bandwidthMiBps: 20\n";

    [Fact]
    public async Task Killed_silos_and_a_killed_Redis_leave_every_migration_ended_every_placement_recorded_and_every_lost_guest_marked()
    {
        await using var cluster = await NamespaceCluster.StartAsync(["s1", "s2", "s3"], "simulated",
            new Dictionary<string, string> { ["KVMCLUSTER__SIMULATED__TIMESCALE"] = "20" });
        try
        {
            using (var yaml = new StringContent(Policy, Encoding.UTF8, "application/yaml"))
            using (var submitted = await cluster.Api().PostAsync("/api/policies?source=chaos.yaml", yaml))
                Assert.True(submitted.IsSuccessStatusCode, await submitted.Content.ReadAsStringAsync());
            await cluster.PostAsync("/api/policies/chaos/activate", new { });

            var random = new Random(2026);
            var acknowledged = new List<string>();
            var migrations = new List<string>();
            var problems = new List<string>();
            var next = 0;
            async Task<bool> Place(string via)
            {
                var name = $"vm-{next++:D3}";
                try
                {
                    await cluster.PostAsync("/api/guests", new { name, vCpus = 1, memoryMiB = 1024 << random.Next(2) }, via);
                    acknowledged.Add(name);
                    return true;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return false; } // not acknowledged: nothing promised
            }
            for (var i = 0; i < 9; i++) Assert.True(await Place("s1"), "the first placements must succeed");

            for (var round = 1; round <= 24; round++)
            {
                await cluster.EnsureUpAsync();
                if (round % 8 == 0)
                {
                    // Redis dies during a burst of placements and comes back from its append-only file.
                    var placing = Task.Run(async () => { for (var i = 0; i < 16; i++) { await Place(cluster.Hosts.ElementAt(i % 3)); await Task.Delay(150); } });
                    await Task.Delay(600 + random.Next(600));
                    cluster.KillRedis();
                    output.WriteLine($"round {round}: Redis killed during placements");
                    await Task.Delay(1500);
                    await cluster.StartRedisAsync();
                    await placing;
                    continue;
                }
                // What the hosts run now (a record may still say running for a guest that died with its silo).
                var hosts = await cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>("/api/hosts", h));
                var running = hosts.EnumerateArray().Where(h => h.GetProperty("reachable").GetBoolean())
                    .SelectMany(h => h.GetProperty("guests").EnumerateArray().Select(g => (Name: g.GetString()!, Host: h.GetProperty("name").GetString()!))).ToList();
                if (running.Count < 3) { await Place(cluster.Hosts.First()); await Place(cluster.Hosts.Last()); continue; }
                var (guest, from) = running[random.Next(running.Count)];
                var to = cluster.Hosts.Where(h => h != from).ElementAt(random.Next(2));
                string id;
                try { id = (await cluster.PostAsync("/api/migrations", new { guest, to })).GetProperty("id").GetString()!; }
                catch (HttpRequestException e) when (e.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
                {
                    // Refused with a reason (the guest or host went away meanwhile, a limit): nothing was started.
                    output.WriteLine($"round {round}: migrating {guest} {from} → {to} refused: {e.Message}");
                    continue;
                }
                migrations.Add(id);
                await Task.Delay(random.Next(2000));
                var victim = cluster.Hosts.ElementAt(random.Next(3));
                cluster.KillSilo(victim);
                var killed = Stopwatch.StartNew();
                await Task.Delay(1000);
                cluster.StartSilo(victim);
                var ended = await Ended(cluster, id, TimeSpan.FromSeconds(60) - killed.Elapsed);
                output.WriteLine($"round {round}: {guest} {from} → {to}, {victim} killed: {ended ?? "not ended"} {killed.Elapsed.TotalSeconds:0.0} s after the kill");
                if (ended is null) problems.Add($"round {round}: migration {id} ({guest} {from} → {to}, {victim} killed) not ended 60 s after the kill");
            }

            // Settled: every host back, reconciliation has looked (its lost-after time has passed for every host).
            await cluster.EnsureUpAsync();
            string[] Check(JsonElement guests, JsonElement hosts, JsonElement placedEvents, JsonElement events)
            {
                var found = new List<string>();
                var byName = guests.EnumerateArray().ToDictionary(g => g.GetProperty("name").GetString()!, g => g);
                var runs = hosts.EnumerateArray().SelectMany(h => h.GetProperty("guests").EnumerateArray().Select(g => (Guest: g.GetString()!, Host: h.GetProperty("name").GetString()!))).ToList();
                var placed = placedEvents.EnumerateArray().Select(e => e.GetProperty("subject").GetString()).ToHashSet();
                foreach (var name in acknowledged)
                {
                    if (!byName.TryGetValue(name, out var g)) { found.Add($"{name} was acknowledged and has no record"); continue; }
                    if (!placed.Contains(name)) found.Add($"{name} was acknowledged and its guest-placed event is missing");
                    var status = g.GetProperty("status").GetString();
                    var where = runs.Where(r => r.Guest == name).Select(r => r.Host).ToList();
                    if (where.Count > 1) found.Add($"{name} runs on {string.Join(" and ", where)}");
                    else if (where.Count == 1 && (status != "running" || g.GetProperty("host").GetString() != where[0])) found.Add($"{name} runs on {where[0]}, its record says {status} on {g.GetProperty("host")}");
                    else if (where.Count == 0 && status != "lost") found.Add($"{name} runs nowhere and its record says {status}");
                }
                var ends = events.EnumerateArray().Select(e => e.GetProperty("message").GetString()!).Where(m => m.StartsWith("migration ", StringComparison.Ordinal)).ToList();
                foreach (var id in migrations)
                    if (!ends.Any(m => m.StartsWith($"migration {id}: ", StringComparison.Ordinal) && !m.Contains(" → ", StringComparison.Ordinal)))
                        found.Add($"migration {id} has no event saying how it ended");
                return [.. found];
            }
            string[] last = [];
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (DateTime.UtcNow < deadline)
            {
                last = Check(await cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>("/api/guests", h)),
                    await cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>("/api/hosts", h)),
                    await cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>("/api/events?kind=guest-placed&limit=5000", h)),
                    await cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>("/api/events?limit=5000", h)));
                if (last.Length == 0) break;
                await Task.Delay(1000);
            }
            output.WriteLine($"{acknowledged.Count} placements acknowledged, {migrations.Count} migrations");
            if (migrations.Count < 12) problems.Add($"only {migrations.Count} of 21 migration rounds started a migration");
            Assert.True(problems.Count == 0 && last.Length == 0, string.Join("\n", problems.Concat(last)));

            // A full stop and start of every silo keeps every record, in the list and one by one. (Simulated guests
            // live in their silo's process, so what they run may change — records may go lost; they may not vanish.)
            var before = (await cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>("/api/guests", h))).EnumerateArray()
                .Select(g => g.GetProperty("name").GetString()!).ToHashSet(StringComparer.Ordinal);
            foreach (var h in cluster.Hosts) cluster.KillSilo(h);
            await Task.Delay(1000);
            foreach (var h in cluster.Hosts) cluster.StartSilo(h);
            await cluster.EnsureUpAsync();
            var after = (await cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>("/api/guests", h))).EnumerateArray()
                .Select(g => g.GetProperty("name").GetString()!).ToHashSet(StringComparer.Ordinal);
            var changed = before.Where(n => !after.Contains(n)).Select(n => $"{n} is no longer listed").ToList();
            foreach (var n in before)
            {
                try { await cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>($"/api/guests/{n}", h)); }
                catch (HttpRequestException e) { changed.Add($"GET /api/guests/{n}: {e.Message}"); }
            }
            output.WriteLine($"full restart: {before.Count} records before, {after.Count} after");
            Assert.True(changed.Count == 0, "after stopping and starting every silo:\n" + string.Join("\n", changed));
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException($"{e}\n{cluster.AllLogs("chaos")}");
        }
        catch (Xunit.Sdk.XunitException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\n{cluster.AllLogs("chaos")}");
        }
    }

    private static async Task<string?> Ended(NamespaceCluster cluster, string id, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var m = await cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>($"/api/migrations/{id}", h));
                var status = m.GetProperty("status").GetString();
                if (status is "completed" or "failed" or "cancelled") return status;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException) { }
            await Task.Delay(250);
        }
        return null;
    }
}
