using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace KvmCluster.Silo.Tests.Security;

/// <summary>
/// Tokens with roles on a real silo process, made and revoked with the CLI: what each role may do, a revoked token
/// refused at once, and the audit trail naming the actor of every change.
/// </summary>
public sealed class RoleTests
{
    private const string Bootstrap = "role-bootstrap-0123456789";

    [Fact]
    public async Task Viewers_read_operators_run_guests_admins_change_policies_and_every_change_is_audited()
    {
        var work = Directory.CreateTempSubdirectory("kvmcluster-roles-");
        var api = $"http://127.0.0.1:{ExternalProcess.FreePort()}";
        using var silo = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, "silo", "--hypervisor", "hv-r", "--api-url", api, "--api-token", Bootstrap,
            "--state-dir", Path.Combine(work.FullName, "state"), "--silo-port", ExternalProcess.FreePort().ToString(),
            "--gateway-port", ExternalProcess.FreePort().ToString(), "--planning-interval", "0", "--dashboard", "false"]);
        using var http = new HttpClient { BaseAddress = new Uri(api), Timeout = TimeSpan.FromSeconds(20) };
        try
        {
            await ThreeHypervisors.Eventually(async () =>
            {
                if (silo.HasExited) throw new InvalidOperationException("the silo exited");
                try { return (await Send(http, HttpMethod.Get, "/api/hosts", Bootstrap)).StatusCode; }
                catch (HttpRequestException) { return HttpStatusCode.ServiceUnavailable; }
            }, s => s == HttpStatusCode.OK, TimeSpan.FromSeconds(60));

            var viewer = await Make(api, "dashboards", "viewer");
            var ops = await Make(api, "ops-1", "operator");
            var admin = await Make(api, "alice", "admin");
            Assert.NotEqual(viewer, ops);

            // Nobody: reads and changes refused.
            Assert.Equal(HttpStatusCode.Unauthorized, (await Send(http, HttpMethod.Get, "/api/guests", null)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await Send(http, HttpMethod.Get, "/api/guests", "made-up-token")).StatusCode);
            // Viewer: reads, nothing else.
            Assert.Equal(HttpStatusCode.OK, (await Send(http, HttpMethod.Get, "/api/guests", viewer)).StatusCode);
            await AssertForbidden(await Send(http, HttpMethod.Post, "/api/guests", viewer, Guest("v-1")), "operator", "dashboards", "viewer");
            await AssertForbidden(await Send(http, HttpMethod.Post, "/api/plans", viewer), "operator", "dashboards", "viewer");
            // Operator: guests, migrations and plans; not policies, hosts or tokens.
            Assert.Equal(HttpStatusCode.Created, (await Send(http, HttpMethod.Post, "/api/guests", ops, Guest("web-1"))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await Send(http, HttpMethod.Post, "/api/plans", ops)).StatusCode);
            await AssertForbidden(await Send(http, HttpMethod.Post, "/api/policies", ops, Yaml("name: p\nbalancer: none\n")), "admin", "ops-1", "operator");
            await AssertForbidden(await Send(http, HttpMethod.Post, "/api/hosts/hv-r/maintenance", ops, Json("{\"on\":true}")), "admin", "ops-1", "operator");
            await AssertForbidden(await Send(http, HttpMethod.Post, "/api/tokens", ops, Json("{\"name\":\"x\",\"role\":\"admin\"}")), "admin", "ops-1", "operator");
            // Admin: policies too.
            Assert.Equal(HttpStatusCode.Created, (await Send(http, HttpMethod.Post, "/api/policies", admin, Yaml("name: p\nbalancer: none\n"))).StatusCode);

            // The list shows names and roles, never a secret.
            using (var list = await Cli(api, Bootstrap, "token", "list", "--json"))
            {
                Assert.Contains("\"ops-1\"", list.Output);
                Assert.Contains("\"operator\"", list.Output);
                Assert.DoesNotContain(ops, list.Output);
                Assert.DoesNotContain(viewer, list.Output);
            }
            // Revoked: refused at once, reads included; the others keep working.
            using (var revoke = await Cli(api, admin, "token", "revoke", "ops-1")) Assert.Equal(0, revoke.ExitCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await Send(http, HttpMethod.Get, "/api/guests", ops)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await Send(http, HttpMethod.Post, "/api/guests", ops, Guest("web-2"))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await Send(http, HttpMethod.Get, "/api/guests", viewer)).StatusCode);
            // Rotation without a restart: a new token of the same name works, the old secret still does not.
            var ops2 = await Make(api, "ops-1", "operator");
            Assert.Equal(HttpStatusCode.Created, (await Send(http, HttpMethod.Post, "/api/guests", ops2, Guest("web-3"))).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await Send(http, HttpMethod.Get, "/api/guests", ops)).StatusCode);

            // The audit trail: each change with its actor, role, address, request and outcome.
            var audit = await ThreeHypervisors.Eventually(async () =>
            {
                using var events = await Cli(api, viewer, "events", "--actor", "ops-1", "--limit", "100", "--json");
                return JsonDocument.Parse(events.Output).RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
            }, a => a.Count >= 6, TimeSpan.FromSeconds(20));
            Assert.All(audit, e => Assert.Equal("audit", e.GetProperty("kind").GetString()));
            Assert.All(audit, e => Assert.Equal("ops-1", e.GetProperty("actor").GetString()));
            var lines = audit.Select(e => e.GetProperty("message").GetString() + " | " + string.Join(", ", e.GetProperty("reasons").EnumerateArray().Select(r => r.GetString()))).ToList();
            Assert.Contains(lines, l => l.StartsWith("POST /api/guests → 201", StringComparison.Ordinal) && l.Contains("role operator") && l.Contains("from 127.0.0.1"));
            Assert.Contains(lines, l => l.StartsWith("POST /api/policies → 403", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("POST /api/tokens → 403", StringComparison.Ordinal));
            using (var byAdmin = await Cli(api, viewer, "events", "--actor", "alice", "--json"))
                Assert.Contains(JsonDocument.Parse(byAdmin.Output).RootElement.EnumerateArray(), e => e.GetProperty("message").GetString() == "DELETE /api/tokens/ops-1 → 200");
            Assert.Contains("ops-1 (operator) from 127.0.0.1: POST /api/guests → 201", silo.Output); // the audit log category
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

    private static async Task<string> Make(string api, string name, string role)
    {
        using var p = await Cli(api, Bootstrap, "token", "create", name, "--role", role);
        Assert.True(p.ExitCode == 0, p.Output);
        return p.Output.Trim().Split('\n')[^1].Trim();
    }

    private static async Task<ExternalProcess> Cli(string api, string token, params string[] args)
    {
        var p = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, .. args, "--api", api, "--token", token]);
        await p.WaitAsync(TimeSpan.FromSeconds(60));
        return p;
    }

    private static async Task<HttpResponseMessage> Send(HttpClient http, HttpMethod method, string path, string? token, HttpContent? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await http.SendAsync(request);
    }

    private static async Task AssertForbidden(HttpResponseMessage response, string needed, string name, string has)
    {
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal($"this call needs the {needed} role; token '{name}' has {has}", problem.GetProperty("detail").GetString());
        Assert.Equal(needed, problem.GetProperty("requiredRole").GetString());
    }

    private static StringContent Guest(string name) => Json($$"""{"name":"{{name}}","vCpus":1,"memoryMiB":64}""");
    private static StringContent Json(string s) => new(s, Encoding.UTF8, "application/json");
    private static StringContent Yaml(string s) => new(s, Encoding.UTF8, "application/yaml");
}
