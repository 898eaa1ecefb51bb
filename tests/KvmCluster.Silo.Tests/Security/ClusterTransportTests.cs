using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Serialization;
using KvmCluster.Hosting.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Serialization;

namespace KvmCluster.Silo.Tests.Security;

/// <summary>
/// The silo and gateway ports as an attacker on the network finds them: two silo processes on Redis with mutual TLS
/// (certificates from `kvmcluster certs`), then silos and Orleans clients without the cluster's credentials —
/// a foreign authority's certificate (openssl), none at all — trying to join and to call grains.
/// </summary>
public sealed class ClusterTransportTests
{
    private const string Token = "transport-token-0123456789";

    [Fact]
    public async Task Only_holders_of_the_clusters_certificates_join_the_cluster_or_call_its_grains()
    {
        var work = Directory.CreateTempSubdirectory("kvmcluster-tls-");
        var redisPort = ExternalProcess.FreePort();
        using var redis = new ExternalProcess(ExternalProcess.RedisServer(), ["--port", redisPort.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", work.FullName]);
        var ca = await TestPki.KvmclusterAuthority(Path.Combine(work.FullName, "ca"));
        var foreignCa = Path.Combine(work.FullName, "foreign-ca");
        TestPki.OpensslAuthority(foreignCa, "someone else's CA");
        var clusterId = "tls-" + Path.GetFileName(work.FullName);
        var silos = new Dictionary<string, (ExternalProcess Process, string Api, int Gateway)>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
        try
        {
            foreach (var hv in new[] { "hv-a", "hv-b" })
                silos[hv] = Silo(hv, redisPort, work.FullName, clusterId, ["--tls-dir", await TestPki.KvmclusterHost(ca, hv, "127.0.0.1", Path.Combine(work.FullName, "tls-" + hv))]);
            var api = silos["hv-a"].Api;
            await ThreeHypervisors.Eventually(() => ActiveSilos(http, api), s => s.Count == 2, TimeSpan.FromSeconds(60));

            // Silos that would join: one with a certificate from another authority, one without TLS.
            silos["hv-foreign"] = Silo("hv-foreign", redisPort, work.FullName, clusterId,
                ["--tls-dir", TestPki.OpensslHost(foreignCa, "hv-foreign", "127.0.0.1", Path.Combine(work.FullName, "tls-foreign"))]);
            silos["hv-plain"] = Silo("hv-plain", redisPort, work.FullName, clusterId, ["--insecure-transport", "true"]);
            var seen = new HashSet<string>();
            var until = DateTime.UtcNow.AddSeconds(25);
            while (DateTime.UtcNow < until)
            {
                seen.UnionWith(await ActiveSilos(http, api));
                await Task.Delay(500);
            }
            Assert.Equal(["hv-a", "hv-b"], seen.Order(StringComparer.Ordinal));
            var hosts = await http.GetFromJsonAsync<JsonElement>($"{api}/api/hosts");
            Assert.Equal(["hv-a", "hv-b"], hosts.EnumerateArray().Where(h => h.GetProperty("reachable").GetBoolean()).Select(h => h.GetProperty("name").GetString()).Order(StringComparer.Ordinal));

            // Orleans clients on hv-a's gateway: without TLS, with a foreign certificate — refused; with the cluster's — served.
            var gateway = silos["hv-a"].Gateway;
            await AssertRefused(gateway, clusterId, null, "hv-b");
            await AssertRefused(gateway, clusterId, ClusterIdentity.FromDirectory(Path.Combine(work.FullName, "tls-foreign")), "hv-b");
            Assert.False(await Maintenance(http, api, "hv-b"), "a refused client's change took effect");
            var tool = ClusterIdentity.FromDirectory(await TestPki.KvmclusterHost(ca, "operator-tool", "127.0.0.1", Path.Combine(work.FullName, "tls-tool")));
            using (var client = await Client(gateway, clusterId, tool))
            {
                var scheduler = client.Services.GetRequiredService<IGrainFactory>().GetGrain<ISchedulerGrain>(Cluster.Key);
                Assert.Equal(2, (await scheduler.Hosts()).Count(h => h.Reachable));
            }
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{e}\n" + string.Join("\n", silos.Select(s => $"--- silo {s.Key} ---\n{Tail(s.Value.Process.Output)}")));
        }
        finally
        {
            foreach (var s in silos.Values) s.Process.Dispose();
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Over_a_redis_with_tls_and_a_password_the_clusters_silos_form_and_one_without_the_password_cannot_start()
    {
        var work = Directory.CreateTempSubdirectory("kvmcluster-redis-tls-");
        var ca = await TestPki.KvmclusterAuthority(Path.Combine(work.FullName, "ca"));
        var redisTls = await TestPki.KvmclusterHost(ca, "redis", "127.0.0.1", Path.Combine(work.FullName, "tls-redis"));
        var password = Path.Combine(work.FullName, "redis-password");
        await File.WriteAllTextAsync(password, "s3cret-redis-password\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(password, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var port = ExternalProcess.FreePort();
        // TLS only (no plain port), client certificates required, a password.
        using var redis = new ExternalProcess(ExternalProcess.RedisServer(), ["--port", "0", "--tls-port", port.ToString(), "--bind", "127.0.0.1",
            "--tls-cert-file", Path.Combine(redisTls, "server-cert.pem"), "--tls-key-file", Path.Combine(redisTls, "server-key.pem"),
            "--tls-ca-cert-file", Path.Combine(redisTls, "ca-cert.pem"), "--tls-auth-clients", "yes", "--requirepass", "s3cret-redis-password",
            "--save", "", "--appendonly", "no", "--dir", work.FullName]);
        var clusterId = "rtls-" + Path.GetFileName(work.FullName);
        var silos = new Dictionary<string, (ExternalProcess Process, string Api, int Gateway)>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
        try
        {
            foreach (var hv in new[] { "hv-a", "hv-b" })
                silos[hv] = Silo(hv, port, work.FullName, clusterId, ["--tls-dir", await TestPki.KvmclusterHost(ca, hv, "127.0.0.1", Path.Combine(work.FullName, "tls-" + hv))],
                    redis: $"127.0.0.1:{port},ssl=true,sslHost=127.0.0.1", env: new() { ["KVMCLUSTER__REDISPASSWORDFILE"] = password });
            await ThreeHypervisors.Eventually(() => ActiveSilos(http, silos["hv-a"].Api), s => s.Count == 2, TimeSpan.FromSeconds(90));
            await ThreeHypervisors.Eventually(async () =>
            {
                try { return (await http.GetFromJsonAsync<JsonElement>($"{silos["hv-b"].Api}/api/hosts")).EnumerateArray().Count(h => h.GetProperty("reachable").GetBoolean()); }
                catch (HttpRequestException) { return 0; }
            }, n => n == 2, TimeSpan.FromSeconds(60));

            // The same silo without the password: Redis refuses it, it never joins.
            silos["hv-c"] = Silo("hv-c", port, work.FullName, clusterId, ["--tls-dir", await TestPki.KvmclusterHost(ca, "hv-c", "127.0.0.1", Path.Combine(work.FullName, "tls-hv-c"))],
                redis: $"127.0.0.1:{port},ssl=true,sslHost=127.0.0.1,connectTimeout=2000,abortConnect=true");
            Assert.Equal(2, await silos["hv-c"].Process.WaitAsync(TimeSpan.FromSeconds(90)));
            Assert.Contains("Redis refused this silo", silos["hv-c"].Process.Output);
            Assert.DoesNotContain("   at ", silos["hv-c"].Process.Output);
            Assert.DoesNotContain("hv-c", await ActiveSilos(http, silos["hv-a"].Api));
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{e}\n--- redis ---\n{Tail(redis.Output)}\n" + string.Join("\n", silos.Select(s => $"--- silo {s.Key} ---\n{Tail(s.Value.Process.Output)}")));
        }
        finally
        {
            foreach (var s in silos.Values) s.Process.Dispose();
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task An_embedded_silo_lets_no_other_process_onto_its_gateway()
    {
        var work = Directory.CreateTempSubdirectory("kvmcluster-tls-embedded-");
        var gateway = ExternalProcess.FreePort();
        var api = $"http://127.0.0.1:{ExternalProcess.FreePort()}";
        using var silo = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, "silo", "--hypervisor", "hv-e", "--api-url", api, "--api-token", Token,
            "--silo-port", ExternalProcess.FreePort().ToString(), "--gateway-port", gateway.ToString(), "--state-dir", Path.Combine(work.FullName, "state"),
            "--planning-interval", "0", "--dashboard", "false"]);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
        try
        {
            await ThreeHypervisors.Eventually(() => ActiveSilos(http, api), s => s.Count == 1, TimeSpan.FromSeconds(60));
            Assert.Contains("silo ports open to this process only", silo.Output);
            await AssertRefused(gateway, "kvm-fleet", null, "hv-e");
            var ca = await TestPki.KvmclusterAuthority(Path.Combine(work.FullName, "ca"));
            await AssertRefused(gateway, "kvm-fleet", ClusterIdentity.FromDirectory(await TestPki.KvmclusterHost(ca, "tool", "127.0.0.1", Path.Combine(work.FullName, "tls"))), "hv-e");
            Assert.False(silo.HasExited);
            Assert.False(await Maintenance(http, api, "hv-e"), "a refused client's change took effect");
        }
        catch (Exception e) { throw new Xunit.Sdk.XunitException($"{e}\n--- silo ---\n{Tail(silo.Output)}"); }
        finally { silo.Dispose(); work.Delete(recursive: true); }
    }

    [Fact]
    public async Task A_redis_silo_without_a_tls_directory_refuses_to_start_and_says_how_to_make_one()
    {
        using var silo = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, "silo", "--hypervisor", "hv-x", "--redis", "127.0.0.1:1",
            "--api-url", $"http://127.0.0.1:{ExternalProcess.FreePort()}"]);
        Assert.Equal(2, await silo.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("--tls-dir", silo.Output);
        Assert.Contains("kvmcluster certs host", silo.Output);
        Assert.DoesNotContain("   at ", silo.Output);
    }

    /// <summary>An Orleans client (the "40-line client" of an attacker, or a tool) on a gateway; it must not get a single call through.</summary>
    private static async Task AssertRefused(int gateway, string clusterId, ClusterIdentity? identity, string host)
    {
        IHost? client = null;
        try
        {
            client = await Client(gateway, clusterId, identity);
            var scheduler = client.Services.GetRequiredService<IGrainFactory>().GetGrain<ISchedulerGrain>(Cluster.Key);
            await scheduler.SetMaintenance(host, true).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Fail($"a client {(identity is null ? "without TLS" : "with a foreign certificate")} called the scheduler");
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            // Refused: the connection never authenticated (Orleans reports a failed connection or no gateway), not a
            // refusal by the scheduler, which would mean the call got through.
            Assert.False(e is ClusterException, $"the call reached the scheduler: {e.Message}");
        }
        finally { client?.Dispose(); }
    }

    private static async Task<IHost> Client(int gateway, string clusterId, ClusterIdentity? identity)
    {
        var host = new HostBuilder().UseOrleansClient(c =>
        {
            c.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, gateway));
            c.Configure<ClusterOptions>(o => { o.ClusterId = clusterId; o.ServiceId = "kvmcluster"; });
            c.Services.AddSerializer(s => s.AddPolicyTypes());
            if (identity is not null) c.UseClusterTransportSecurity(identity);
        }).Build();
        try { await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30)); }
        catch { host.Dispose(); throw; }
        return host;
    }

    private static (ExternalProcess, string, int) Silo(string hv, int redisPort, string work, string clusterId, string[] extra,
        string? redis = null, Dictionary<string, string>? env = null)
    {
        var api = $"http://127.0.0.1:{ExternalProcess.FreePort()}";
        var gateway = ExternalProcess.FreePort();
        return (new ExternalProcess("dotnet",
        [
            ExternalProcess.Kvmcluster, "silo", "--hypervisor", hv, "--redis", redis ?? $"127.0.0.1:{redisPort}", "--api-url", api, "--api-token", Token,
            "--silo-port", ExternalProcess.FreePort().ToString(), "--gateway-port", gateway.ToString(),
            "--state-dir", Path.Combine(work, hv), "--planning-interval", "0", "--cluster-id", clusterId, "--dashboard", "false", .. extra,
        ], new Dictionary<string, string>(env ?? []) { ["KVMCLUSTER__HOSTREPORTSECONDS"] = "1" }), api, gateway);
    }

    private static async Task<List<string>> ActiveSilos(HttpClient http, string api)
    {
        try
        {
            var view = await http.GetFromJsonAsync<JsonElement>($"{api}/api/cluster");
            return [.. view.GetProperty("silos").EnumerateArray().Where(s => s.GetProperty("status").GetString() == "active").Select(s => s.GetProperty("name").GetString()!)];
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return []; }
    }

    private static async Task<bool> Maintenance(HttpClient http, string api, string host)
    {
        var h = await http.GetFromJsonAsync<JsonElement>($"{api}/api/hosts/{host}");
        return h.GetProperty("facts").GetProperty("maintenance").GetBoolean();
    }

    private static string Tail(string s) => s.Length > 4000 ? s[^4000..] : s;
}
