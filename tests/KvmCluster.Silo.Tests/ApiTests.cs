using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace KvmCluster.Silo.Tests;

/// <summary>The API of a real embedded silo process (no Redis): authentication, problem details, OpenAPI, CLI exit codes.</summary>
public sealed class ApiTests
{
    [Fact]
    public async Task Embedded_silo_guards_changes_with_the_token_and_answers_mistakes_with_problem_details()
    {
        var work = Directory.CreateTempSubdirectory("kvmcluster-api-");
        var api = $"http://127.0.0.1:{ExternalProcess.FreePort()}";
        using var silo = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, "--hypervisor", "hv-solo", "--api-url", api, "--state-dir", work.FullName,
            "--silo-port", ExternalProcess.FreePort().ToString(), "--gateway-port", ExternalProcess.FreePort().ToString(), "--planning-interval", "0"]);
        using var http = new HttpClient { BaseAddress = new Uri(api), Timeout = TimeSpan.FromSeconds(20) };
        try
        {
            await WaitUntilHealthy(http, silo);
            // No token configured: the silo made one and wrote it where only its user can read it.
            var tokenFile = Path.Combine(work.FullName, "api-token");
            var token = (await File.ReadAllTextAsync(tokenFile)).Trim();
            Assert.True(token.Length >= 32);
            if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));

            var guest = """{"name":"web-1","vCpus":2,"memoryMiB":2048}""";
            var anonymous = await http.PostAsync("/api/guests", Json(guest));
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);
            var wrong = new HttpRequestMessage(HttpMethod.Post, "/api/guests") { Content = Json(guest) };
            wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-the-token");
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong)).StatusCode);
            // Reads need a token too (KvmCluster:ApiOpenReads opens them), as do the metrics and the dashboard.
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/guests")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/hosts")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/metrics")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/dashboard/")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/dashboard/?access_token=not-the-token")).StatusCode);

            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            await WaitUntilUp(http, silo);
            Assert.Empty(JsonDocument.Parse(await http.GetStringAsync("/api/guests")).RootElement.EnumerateArray());
            var created = await http.PostAsync("/api/guests", Json(guest));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Equal("hv-solo", JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("host").GetString());

            await AssertProblem(await http.PostAsync("/api/guests", Json("""{"name":"web-2","vCpus":"two","memoryMiB":2048}""")), 400, "vCpus");
            await AssertProblem(await http.PostAsync("/api/guests", Json("""{"name":"bad name;rm","vCpus":1,"memoryMiB":64}""")), 400, "name");
            await AssertProblem(await http.PostAsync("/api/guests", Json("""{"name":"web-3","vCpus":0,"memoryMiB":64}""")), 400, "vCpus");
            await AssertProblem(await http.PostAsync("/api/guests", Json(guest)), 409, null);
            await AssertProblem(await http.PostAsync("/api/policies", new StringContent("name: x\nbalancer: sideways\n", Encoding.UTF8, "application/yaml")), 400, "balancer");
            await AssertProblem(await http.GetAsync("/api/migrations/nope"), 404, null);
            await AssertProblem(await http.PostAsync("/api/guests/web-1/actions", Json("""{"action":"balloon"}""")), 400, "value");
            await AssertProblem(await http.PostAsync("/api/guests/web-1/actions", Json("""{"action":"device-add","name":"p1","driver":"e1000"}""")), 400, "driver");
            await AssertProblem(await http.PostAsync("/api/guests/web-1/actions", Json("""{"action":"snapshot-save","name":"s1"}""")), 400, "action"); // the simulated driver has no QEMU
            await AssertProblem(await http.PostAsync("/api/guests/ghost/actions", Json("""{"action":"status"}""")), 404, null);
            var status = JsonDocument.Parse(await (await http.PostAsync("/api/guests/web-1/actions", Json("""{"action":"status"}"""))).Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("running", status.GetProperty("runState").GetString());
            await AssertProblem(await http.PostAsync("/api/plans/plan-000/execute", null), 404, null);

            // Prometheus metrics: Orleans' instruments and ours (the placement above counted).
            var metrics = await http.GetStringAsync("/metrics");
            Assert.Contains("kvmcluster_placements_total{otel_scope_name=\"KvmCluster\"} 1", metrics);
            Assert.Contains("orleans_app_requests_latency", metrics);
            // The dashboard in a browser: the token once in the address, then a same-site cookie.
            using (var browser = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = new Uri(api) })
            {
                var page = await browser.GetAsync($"/dashboard/?access_token={token}");
                Assert.Equal(HttpStatusCode.OK, page.StatusCode);
                Assert.Contains("Orleans Dashboard", await page.Content.ReadAsStringAsync());
                Assert.Equal(new Uri(api + "/dashboard/"), page.RequestMessage!.RequestUri); // the token left the address
                Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/dashboard/")).StatusCode);
            }

            var openapi = JsonDocument.Parse(await http.GetStringAsync("/openapi/v1.json")).RootElement;
            Assert.True(openapi.GetProperty("paths").TryGetProperty("/api/guests", out _));

            // The CLI: a refused call exits non-zero with the problem's detail, never a stack trace.
            using var cli = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, "migrate", "ghost", "--api", api, "--token", token]);
            Assert.Equal(2, await cli.WaitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("no reachable guest named 'ghost'", cli.Output);
            Assert.DoesNotContain("   at ", cli.Output);
            using var usage = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, "maintenance", "hv-solo", "sideways"]);
            Assert.Equal(2, await usage.WaitAsync(TimeSpan.FromSeconds(60)));

            // Several silos: an unreachable one is skipped. A silo that accepts but never answers hits --timeout.
            var dead = $"http://127.0.0.1:{ExternalProcess.FreePort()}";
            using var failover = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, "guests", "--json", "--api", $"{dead},{api}", "--token", token]);
            Assert.Equal(0, await failover.WaitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("web-1", failover.Output);
            var hung = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            hung.Start();
            try
            {
                using var slow = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, "hosts", "--timeout", "1", "--api", $"http://127.0.0.1:{((IPEndPoint)hung.LocalEndpoint).Port}"]);
                Assert.Equal(1, await slow.WaitAsync(TimeSpan.FromSeconds(60)));
                Assert.Contains("did not answer within 1 s", slow.Output);
                Assert.DoesNotContain("   at ", slow.Output);
            }
            finally { hung.Stop(); }
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException($"{e}\n--- silo ---\n{silo.Output}");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task An_operator_labels_hosts_activates_built_in_policies_previews_plans_and_migrates_within_the_policys_limits()
    {
        var work = Directory.CreateTempSubdirectory("kvmcluster-ops-");
        var api = $"http://127.0.0.1:{ExternalProcess.FreePort()}";
        // Three simulated hypervisors hv-001…003, each labelled rack=r1 by the silo's settings.
        using var silo = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, "--hypervisor", "hv", "--simulated-hosts", "3", "--api-url", api, "--state-dir", work.FullName,
            "--silo-port", ExternalProcess.FreePort().ToString(), "--gateway-port", ExternalProcess.FreePort().ToString(), "--planning-interval", "0", "--api-token", "ops-token"],
            new Dictionary<string, string> { ["KvmCluster__Labels__rack"] = "r1" });
        using var http = new HttpClient { BaseAddress = new Uri(api), Timeout = TimeSpan.FromSeconds(20) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "ops-token");
        async Task<ExternalProcess> Cli(params string[] args)
        {
            var p = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, .. args, "--api", api, "--token", "ops-token"]);
            await p.WaitAsync(TimeSpan.FromSeconds(60));
            return p;
        }
        async Task<JsonElement> Host(string name) => JsonDocument.Parse(await http.GetStringAsync($"/api/hosts/{name}")).RootElement;
        try
        {
            await WaitUntilUp(http, silo, hosts: 3);
            var hv1 = await Host("hv-001");
            Assert.Equal("r1", hv1.GetProperty("labels").GetProperty("rack").GetString());
            Assert.Equal("on", hv1.GetProperty("power").GetString());

            // A hard host-affinity rule matches live labels: refused until a host carries zone=a, then placed there.
            var zoned = """{"name":"zoned","vCpus":1,"memoryMiB":1024,"affinity":[{"scope":"host","key":"zone","value":"a","anti":false,"hard":true}]}""";
            await AssertProblem(await http.PostAsync("/api/guests", Json(zoned)), 409, null);
            using (var set = await Cli("label", "hv-002", "zone=a"))
            {
                Assert.Equal(0, set.ExitCode);
                Assert.Contains("zone=a", set.Output);
            }
            var placed = await http.PostAsync("/api/guests", Json(zoned));
            Assert.Equal(HttpStatusCode.Created, placed.StatusCode);
            Assert.Equal("hv-002", JsonDocument.Parse(await placed.Content.ReadAsStringAsync()).RootElement.GetProperty("host").GetString());
            using (var remove = await Cli("label", "hv-003", "rack-")) Assert.Equal(0, remove.ExitCode);
            Assert.False((await Host("hv-003")).GetProperty("labels").TryGetProperty("rack", out _)); // a configured label removed, and it stays removed
            using (var bad = await Cli("label", "hv-001", "Zone A=x"))
            {
                Assert.Equal(2, bad.ExitCode);
                Assert.Contains("label key 'Zone A' must match", bad.Output);
            }
            Assert.Contains("hv-002 labels: zone=a", await http.GetStringAsync("/api/events?kind=host-labels"));

            // Built-in policies are activated by name; an unknown name says which names exist.
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/api/policies/evenly-distributed/activate", null)).StatusCode);
            Assert.Equal("evenly-distributed", JsonDocument.Parse(await http.GetStringAsync("/api/policies/active")).RootElement.GetProperty("name").GetString());
            var unknown = await http.PostAsync("/api/policies/sideways/activate", null);
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            Assert.Contains("power-saving", await unknown.Content.ReadAsStringAsync());

            // A preview is a preview, even under full automation: nothing executes, and an approved plan stays approved.
            var full = "name: evacuate\nautomation: full\nmigration:\n  maxConcurrent: 1\n";
            Assert.Equal(HttpStatusCode.Created, (await http.PostAsync("/api/policies", new StringContent(full, Encoding.UTF8, "application/yaml"))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/api/policies/evacuate/activate", null)).StatusCode);
            foreach (var n in new[] { "plain-1", "plain-2", "plain-3" })
                Assert.Equal(HttpStatusCode.Created, (await http.PostAsync("/api/guests", Json($$"""{"name":"{{n}}","vCpus":1,"memoryMiB":4096}"""))).StatusCode);
            var where = JsonDocument.Parse(await http.GetStringAsync("/api/guests/plain-1")).RootElement.GetProperty("host").GetString()!;
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"/api/hosts/{where}/maintenance", Json("""{"on":true}"""))).StatusCode);
            var preview = JsonDocument.Parse(await (await http.PostAsync("/api/plans", null)).Content.ReadAsStringAsync()).RootElement;
            var planId = preview.GetProperty("id").GetString()!;
            Assert.Equal("RECOMMENDED", preview.GetProperty("state").GetString());
            Assert.NotEqual(0, preview.GetProperty("moves").GetArrayLength());
            await Task.Delay(2000);
            Assert.Equal("RECOMMENDED", JsonDocument.Parse(await http.GetStringAsync($"/api/plans/{planId}")).RootElement.GetProperty("state").GetString());
            Assert.Equal(where, JsonDocument.Parse(await http.GetStringAsync("/api/guests/plain-1")).RootElement.GetProperty("host").GetString());
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"/api/plans/{planId}/approve", null)).StatusCode);
            var second = JsonDocument.Parse(await (await http.PostAsync("/api/plans", null)).Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("RECOMMENDED", second.GetProperty("state").GetString());
            Assert.Equal("APPROVED", JsonDocument.Parse(await http.GetStringAsync($"/api/plans/{planId}")).RootElement.GetProperty("state").GetString());
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"/api/plans/{planId}/cancel", null)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"/api/hosts/{where}/maintenance", Json("""{"on":false}"""))).StatusCode);

            // Operators' migrations keep the policy's concurrency limits (one at a time here): a clear 409, or --force.
            var guests = JsonDocument.Parse(await http.GetStringAsync("/api/guests")).RootElement.EnumerateArray()
                .ToDictionary(g => g.GetProperty("name").GetString()!, g => g.GetProperty("host").GetString()!);
            string Other(string guest) => new[] { "hv-001", "hv-002", "hv-003" }.First(h => h != guests[guest]);
            var first = await http.PostAsync("/api/migrations", Json($$"""{"guest":"plain-2","to":"{{Other("plain-2")}}"}"""));
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
            var limited = await http.PostAsync("/api/migrations", Json($$"""{"guest":"plain-3","to":"{{Other("plain-3")}}"}"""));
            var body = await limited.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.Conflict, limited.StatusCode);
            Assert.Contains("migration.maxConcurrent", body);
            Assert.Contains("plain-2", body);
            using (var forced = await Cli("migrate", "plain-3", "--to", Other("plain-3"), "--force"))
            {
                Assert.Equal(0, forced.ExitCode);
                Assert.Contains("plain-3", forced.Output);
            }
            Assert.Contains("past the policy", await http.GetStringAsync("/api/events?kind=migration-forced"));
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException($"{e}\n--- silo ---\n{silo.Output}");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    internal static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    internal static async Task AssertProblem(HttpResponseMessage response, int status, string? field)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        if (field is not null) Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.DoesNotContain("   at ", body);
    }

    internal static async Task WaitUntilHealthy(HttpClient http, ExternalProcess silo)
    {
        for (var i = 0; i < 240; i++)
        {
            if (silo.HasExited) throw new InvalidOperationException("the silo exited");
            try { if ((await http.GetAsync("/healthz")).IsSuccessStatusCode) return; }
            catch (HttpRequestException) { }
            await Task.Delay(250);
        }
        throw new TimeoutException("the silo did not come up");
    }

    internal static async Task WaitUntilUp(HttpClient http, ExternalProcess silo, int hosts = 1)
    {
        for (var i = 0; i < 240; i++)
        {
            if (silo.HasExited) throw new InvalidOperationException("the silo exited");
            try
            {
                var seen = JsonDocument.Parse(await http.GetStringAsync("/api/hosts")).RootElement;
                if (seen.GetArrayLength() == hosts) return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(250);
        }
        throw new TimeoutException("the silo did not come up");
    }
}
