using System.Net.Http.Json;
using System.Text.Json;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// The real thing on loopback: redis-server, two kvmcluster silo processes (simulated driver) clustered through
/// Redis, and the CLI driving them over the API. Then `kill -9` one silo and watch the survivor notice.
/// </summary>
public sealed class MultiProcessRedisTests
{
    private const string Token = "test-token-0123456789";

    [Fact]
    public async Task Two_silos_on_redis_apply_a_policy_plan_migrate_and_survive_a_killed_peer()
    {
        var work = Directory.CreateTempSubdirectory("kvmcluster-mp-");
        var redisPort = ExternalProcess.FreePort();
        using var redis = new ExternalProcess(ExternalProcess.RedisServer(), ["--port", redisPort.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", work.FullName]);
        await Task.Delay(200);
        var (apiA, apiB) = ($"http://127.0.0.1:{ExternalProcess.FreePort()}", $"http://127.0.0.1:{ExternalProcess.FreePort()}");
        // The silo ports on mutual TLS, with certificates from `kvmcluster certs` (the README's way).
        var ca = await Security.TestPki.KvmclusterAuthority(Path.Combine(work.FullName, "ca"));
        foreach (var hv in new[] { "hv-a", "hv-b" }) await Security.TestPki.KvmclusterHost(ca, hv, "127.0.0.1", Path.Combine(work.FullName, "tls-" + hv));
        using var siloA = Silo("hv-a", apiA, redisPort, work.FullName);
        using var siloB = Silo("hv-b", apiB, redisPort, work.FullName);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
        try
        {
            await WaitForHosts(http, apiA, 2, siloA, siloB);

            var policy = Path.Combine(work.FullName, "spread.yaml");
            await File.WriteAllTextAsync(policy, "name: spread\nbalancer: evenly-distributed\nautomation: manual\nevenlyDistributed:\n  threshold: 5\n  maxMovesPerRound: 3\n");
            var applied = await Cli(apiB, "policy", "apply", "-f", policy, "--activate");
            Assert.Contains("spread", applied);

            // Six guests started by hand on hv-a (the "before KvmCluster" state): the plan spreads them.
            for (var i = 0; i < 6; i++)
            {
                var spec = Path.Combine(work.FullName, $"vm-{i}.json");
                await File.WriteAllTextAsync(spec, $$"""{"name":"vm-{{i}}","vCpus":4,"memoryMiB":4096}""");
                await Cli(apiA, "launch", "-f", spec);
            }
            var plan = JsonDocument.Parse(await Cli(apiA, "plan", "--json")).RootElement;
            var id = plan.GetProperty("id").GetString()!;
            var moves = plan.GetProperty("moves").GetArrayLength();
            // The placement spread already; evenly-distributed may still find moves, or none: both must execute cleanly.
            var executed = JsonDocument.Parse(await Cli(apiB, "plan", "execute", id, "--wait", "--json")).RootElement;
            Assert.Equal("SUCCEEDED", executed.GetProperty("state").GetString());
            Assert.Equal(moves, executed.GetProperty("moves").GetArrayLength());

            var guests = await Guests(http, apiA);
            var onA = guests.Where(g => g.Host == "hv-a").Select(g => g.Name).ToList();
            Assert.NotEmpty(onA);
            var migrated = JsonDocument.Parse(await Cli(apiA, "migrate", onA[0], "--to", "hv-b", "--json")).RootElement;
            var migrationId = migrated.GetProperty("id").GetString()!;
            var final = await Until(async () => await http.GetFromJsonAsync<JsonElement>($"{apiB}/api/migrations/{migrationId}"),
                m => m.GetProperty("status").GetString() is "completed" or "failed" or "cancelled", TimeSpan.FromSeconds(30));
            Assert.Equal("completed", final.GetProperty("status").GetString());
            await Until(() => Guests(http, apiA), gs => gs.Count(g => g.Name == onA[0]) == 1 && gs.Single(g => g.Name == onA[0]).Host == "hv-b", TimeSpan.FromSeconds(15));

            var onB = (await Guests(http, apiA)).Where(g => g.Host == "hv-b").Select(g => g.Name).ToList();
            Assert.NotEmpty(onB);
            siloB.KillHard();
            var after = await Until(() => Guests(http, apiA), gs => gs.Count > 0 && gs.Where(g => onB.Contains(g.Name)).All(g => g.Status == "unreachable"), TimeSpan.FromSeconds(30));
            Assert.All(after.Where(g => g.Host == "hv-a"), g => Assert.Equal("running", g.Status));
            var hosts = await Cli(apiA, "hosts", "--json");
            var hvB = JsonDocument.Parse(hosts).RootElement.EnumerateArray().Single(h => h.GetProperty("name").GetString() == "hv-b");
            Assert.False(hvB.GetProperty("reachable").GetBoolean());
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{e}\n--- silo hv-a ---\n{Tail(siloA.Output)}\n--- silo hv-b ---\n{Tail(siloB.Output)}");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private sealed record GuestRow(string Name, string? Host, string Status);

    private static async Task<List<GuestRow>> Guests(HttpClient http, string api)
    {
        JsonElement json;
        // Right after a silo dies, the scheduler may be moving to the survivor: a 503 then is expected, not a result.
        try { json = await http.GetFromJsonAsync<JsonElement>($"{api}/api/guests"); }
        catch (HttpRequestException) { return []; }
        return [.. json.EnumerateArray().Select(g => new GuestRow(g.GetProperty("name").GetString()!, g.GetProperty("host").GetString(), g.GetProperty("status").GetString()!))];
    }

    private static ExternalProcess Silo(string hv, string api, int redisPort, string work) => new("dotnet",
    [
        ExternalProcess.Kvmcluster, "silo", "--hypervisor", hv, "--redis", $"127.0.0.1:{redisPort}", "--api-url", api, "--api-token", Token,
        "--silo-port", ExternalProcess.FreePort().ToString(), "--gateway-port", ExternalProcess.FreePort().ToString(),
        "--state-dir", Path.Combine(work, hv), "--planning-interval", "0", "--cluster-id", "mp-" + Path.GetFileName(work),
        "--tls-dir", Path.Combine(work, "tls-" + hv),
    ], new Dictionary<string, string> { ["KVMCLUSTER__SIMULATED__TIMESCALE"] = "20", ["KVMCLUSTER__HOSTREPORTSECONDS"] = "1" });

    private static async Task<string> Cli(string api, params string[] args)
    {
        using var p = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, .. args, "--api", api, "--token", Token]);
        var code = await p.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(code == 0, $"kvmcluster {string.Join(' ', args)} exited {code}:\n{p.Output}");
        return p.Output;
    }

    private static async Task WaitForHosts(HttpClient http, string api, int count, params ExternalProcess[] silos)
    {
        await Until(async () =>
        {
            foreach (var s in silos) if (s.HasExited) throw new InvalidOperationException("a silo exited during start-up");
            try
            {
                var hosts = await http.GetFromJsonAsync<JsonElement>($"{api}/api/hosts");
                return hosts.EnumerateArray().Count(h => h.GetProperty("reachable").GetBoolean());
            }
            catch (HttpRequestException) { return 0; }
        }, n => n >= count, TimeSpan.FromSeconds(60));
    }

    private static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var v = await probe();
            if (done(v)) return v;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not reached within {within.TotalSeconds} s; last: {(v is JsonElement j ? j.ToString() : v?.ToString())}");
            await Task.Delay(250);
        }
    }

    private static string Tail(string s) => s.Length > 4000 ? s[^4000..] : s;
}
