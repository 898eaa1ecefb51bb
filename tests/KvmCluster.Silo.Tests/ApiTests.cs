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
            await WaitUntilUp(http, silo);
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
            Assert.Empty(JsonDocument.Parse(await http.GetStringAsync("/api/guests")).RootElement.EnumerateArray());
            // Reads of the fleet are open; metrics and the dashboard are not.
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/metrics")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/dashboard/")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/dashboard/?access_token=not-the-token")).StatusCode);

            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var created = await http.PostAsync("/api/guests", Json(guest));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Equal("hv-solo", JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("host").GetString());

            await AssertProblem(await http.PostAsync("/api/guests", Json("""{"name":"web-2","vCpus":"two","memoryMiB":2048}""")), 400, "vCpus");
            await AssertProblem(await http.PostAsync("/api/guests", Json("""{"name":"bad name;rm","vCpus":1,"memoryMiB":64}""")), 400, "name");
            await AssertProblem(await http.PostAsync("/api/guests", Json("""{"name":"web-3","vCpus":0,"memoryMiB":64}""")), 400, "vcpus");
            await AssertProblem(await http.PostAsync("/api/guests", Json(guest)), 409, null);
            await AssertProblem(await http.PostAsync("/api/policies", new StringContent("name: x\nbalancer: sideways\n", Encoding.UTF8, "application/yaml")), 400, "balancer");
            await AssertProblem(await http.GetAsync("/api/migrations/nope"), 404, null);
            await AssertProblem(await http.PostAsync("/api/guests/web-1/actions", Json("""{"action":"balloon"}""")), 400, "value");
            await AssertProblem(await http.PostAsync("/api/guests/web-1/actions", Json("""{"action":"device-add","name":"p1","driver":"e1000"}""")), 400, "driver");
            await AssertProblem(await http.PostAsync("/api/guests/web-1/actions", Json("""{"action":"stop"}""")), 400, "action"); // the simulated driver has no QEMU
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
            using var failover = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, "guests", "--json", "--api", $"{dead},{api}"]);
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

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task AssertProblem(HttpResponseMessage response, int status, string? field)
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

    private static async Task WaitUntilUp(HttpClient http, ExternalProcess silo)
    {
        for (var i = 0; i < 240; i++)
        {
            if (silo.HasExited) throw new InvalidOperationException("the silo exited");
            try
            {
                var hosts = JsonDocument.Parse(await http.GetStringAsync("/api/hosts")).RootElement;
                if (hosts.GetArrayLength() == 1) return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(250);
        }
        throw new TimeoutException("the silo did not come up");
    }
}
