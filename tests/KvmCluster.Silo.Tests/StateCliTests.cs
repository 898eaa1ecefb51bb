using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// `kvmcluster state export|import` as an operator runs them: two real embedded silo processes, one after the other,
/// the CLI between them, and the API's guards around a document that holds token hashes.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class StateCliTests
{
    [Fact]
    public async Task The_cli_exports_a_cluster_to_a_private_file_and_imports_it_into_a_new_one_and_only_admins_may()
    {
        var work = Directory.CreateTempSubdirectory("kvmcluster-state-");
        var file = Path.Combine(work.FullName, "fleet-state.json");
        string viewerSecret;
        try
        {
            var apiA = $"http://127.0.0.1:{ExternalProcess.FreePort()}";
            using (var a = Silo(apiA, Path.Combine(work.FullName, "a"), "admin-a"))
            using (var http = Client(apiA, "admin-a"))
            {
                try
                {
                    await ApiTests.WaitUntilUp(http, a, hosts: 2);
                    Assert.Equal(HttpStatusCode.Created, (await http.PostAsync("/api/guests", ApiTests.Json("""{"name":"web-1","vCpus":2,"memoryMiB":2048}"""))).StatusCode);
                    var made = JsonDocument.Parse(await (await http.PostAsync("/api/tokens", ApiTests.Json("""{"name":"watcher","role":"viewer"}"""))).Content.ReadAsStringAsync()).RootElement;
                    viewerSecret = made.GetProperty("token").GetString()!;
                    Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/api/policies/evenly-distributed/activate", null)).StatusCode);
                    Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/api/hosts/hv-002/labels", ApiTests.Json("""{"set":{"zone":"b"}}"""))).StatusCode);
                    var plan = JsonDocument.Parse(await (await http.PostAsync("/api/plans", null)).Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();

                    // Open reads are a viewer's reads: the export and the token list still need an admin's token.
                    using var anonymous = new HttpClient { BaseAddress = new Uri(apiA) };
                    Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/api/hosts")).StatusCode);
                    Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/state")).StatusCode);
                    Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/tokens")).StatusCode);
                    using var viewer = Client(apiA, viewerSecret);
                    await ApiTests.AssertProblem(await viewer.GetAsync("/api/state"), 403, null);
                    // Unknown migration ids are 404 from the index, for reads and cancels alike.
                    await ApiTests.AssertProblem(await http.GetAsync("/api/migrations/no-such-migration"), 404, null);
                    await ApiTests.AssertProblem(await http.PostAsync("/api/migrations/no-such-migration/cancel", null), 404, null);

                    using (var export = await Cli(apiA, "admin-a", "state", "export", "-o", file))
                    {
                        Assert.True(export.ExitCode == 0, export.Output);
                        Assert.Contains("1 guests", Flat(export.Output));
                    }
                    Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
                    using (var over = await Cli(apiA, "admin-a", "state", "export", "-o", file))
                    {
                        Assert.Equal(2, over.ExitCode); // an existing file is never overwritten
                        Assert.DoesNotContain("   at ", over.Output);
                    }
                    var document = JsonNode.Parse(await File.ReadAllTextAsync(file))!;
                    Assert.Equal(plan, document["plans"]![0]!["id"]!.GetValue<string>());
                    Assert.DoesNotContain(viewerSecret, await File.ReadAllTextAsync(file)); // hashes only
                }
                catch (Exception e) when (e is not Xunit.Sdk.XunitException)
                {
                    throw new Xunit.Sdk.XunitException($"{e}\n--- silo a ---\n{a.Output}");
                }
            }

            // A fleet-sized document: more than the 1 MiB every other body may have.
            var big = JsonNode.Parse(await File.ReadAllTextAsync(file))!;
            var events = big["events"]!.AsArray();
            for (var i = 0; i < 3000; i++)
                events.Add(new JsonObject
                {
                    ["sequence"] = 0,
                    ["at"] = "2026-11-01T00:00:00+00:00",
                    ["kind"] = "note",
                    ["subject"] = "web-1",
                    ["message"] = $"old event {i}: " + new string('x', 400),
                    ["reasons"] = new JsonArray(),
                    ["actor"] = null,
                });
            var bigFile = Path.Combine(work.FullName, "big.json");
            await File.WriteAllTextAsync(bigFile, big.ToJsonString());
            Assert.True(new FileInfo(bigFile).Length > 1024 * 1024);

            var apiB = $"http://127.0.0.1:{ExternalProcess.FreePort()}";
            using var b = Silo(apiB, Path.Combine(work.FullName, "b"), "admin-b");
            using var httpB = Client(apiB, "admin-b");
            try
            {
                await ApiTests.WaitUntilUp(httpB, b, hosts: 2);
                await ApiTests.AssertProblem(await httpB.PostAsync("/api/guests", ApiTests.Json(new string(' ', 2 * 1024 * 1024) + "{}")), 413, null);
                using (var missing = await Cli(apiB, "admin-b", "state", "import", "-f", Path.Combine(work.FullName, "nope.json"))) Assert.Equal(2, missing.ExitCode);
                using (var import = await Cli(apiB, "admin-b", "state", "import", "-f", bigFile))
                {
                    Assert.True(import.ExitCode == 0, import.Output);
                    Assert.Contains("1 guests", Flat(import.Output));
                    Assert.Contains("1 hosts' settings", Flat(import.Output));
                }
                using (var twice = await Cli(apiB, "admin-b", "state", "import", "-f", file))
                {
                    Assert.Equal(1, twice.ExitCode);
                    Assert.Contains("409", twice.Output);
                }
                // The viewer's token from the old cluster reads the new one; the policy, labels and history came along.
                using var viewer = Client(apiB, viewerSecret);
                Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/api/guests/web-1")).StatusCode);
                Assert.Equal("evenly-distributed", JsonDocument.Parse(await httpB.GetStringAsync("/api/policies/active")).RootElement.GetProperty("name").GetString());
                var hv2 = JsonDocument.Parse(await httpB.GetStringAsync("/api/hosts/hv-002")).RootElement;
                Assert.Equal("b", hv2.GetProperty("labels").GetProperty("zone").GetString());
                var history = JsonDocument.Parse(await httpB.GetStringAsync("/api/events?limit=10000")).RootElement;
                Assert.True(history.GetArrayLength() > 3000);
                Assert.Contains(history.EnumerateArray(), e => e.GetProperty("kind").GetString() == "state-imported");
                Assert.Contains(history.EnumerateArray(), e => e.GetProperty("actor").ValueKind == JsonValueKind.String && e.GetProperty("message").GetString()!.Contains("POST /api/state", StringComparison.Ordinal));
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new Xunit.Sdk.XunitException($"{e}\n--- silo b ---\n{b.Output}");
            }
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static ExternalProcess Silo(string api, string state, string token)
    {
        Directory.CreateDirectory(state, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, "--hypervisor", "hv", "--simulated-hosts", "2", "--api-url", api, "--state-dir", state,
            "--silo-port", ExternalProcess.FreePort().ToString(), "--gateway-port", ExternalProcess.FreePort().ToString(), "--planning-interval", "0",
            "--api-token", token, "--open-reads", "true"]);
    }

    /// <summary>The CLI's words without the line breaks its console width put in.</summary>
    private static string Flat(string output) => System.Text.RegularExpressions.Regex.Replace(output, @"\s+", " ");

    private static HttpClient Client(string api, string token)
    {
        var http = new HttpClient { BaseAddress = new Uri(api), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    private static async Task<ExternalProcess> Cli(string api, string token, params string[] args)
    {
        var p = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, .. args, "--api", api, "--token", token]);
        await p.WaitAsync(TimeSpan.FromSeconds(120));
        return p;
    }
}
