using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using static KvmCluster.Silo.Tests.ApiTests;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// A guest's life cycle through the REST API and the CLI of a real silo process (three simulated hypervisors, no
/// Redis): define, start, pause, shutdown, edit, start on a host, destroy, restart, undefine — and every refusal.
/// The QEMU driver's side (a real Linux guest powering itself off, panicking) is in <see cref="LinuxGuestTests"/>.
/// </summary>
public sealed class GuestLifecycleTests
{
    [Fact]
    public async Task A_guest_is_defined_started_paused_shut_down_edited_destroyed_restarted_and_undefined()
    {
        var work = Directory.CreateTempSubdirectory("kvmcluster-life-");
        var api = $"http://127.0.0.1:{ExternalProcess.FreePort()}";
        using var silo = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, "--hypervisor", "hv", "--simulated-hosts", "3", "--api-url", api, "--state-dir", work.FullName,
            "--silo-port", ExternalProcess.FreePort().ToString(), "--gateway-port", ExternalProcess.FreePort().ToString(), "--planning-interval", "0", "--api-token", "life-token"]);
        using var http = new HttpClient { BaseAddress = new Uri(api), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "life-token");
        async Task<ExternalProcess> Cli(params string[] args)
        {
            var p = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, .. args, "--api", api, "--token", "life-token"]);
            await p.WaitAsync(TimeSpan.FromSeconds(90));
            return p;
        }
        async Task<JsonElement> Guest(string name) => JsonDocument.Parse(await http.GetStringAsync($"/api/guests/{name}")).RootElement;
        async Task<string> Status(string name) => (await Guest(name)).GetProperty("status").GetString()!;
        try
        {
            await WaitUntilUp(http, silo, hosts: 3);
            var spec = Path.Combine(work.FullName, "db-1.json");
            await File.WriteAllTextAsync(spec, """{"name":"db-1","vCpus":2,"memoryMiB":1024}""");

            // define: a record, nothing runs; a second define of a stopped guest is an edit.
            using (var define = await Cli("define", "-f", spec))
            {
                Assert.Equal(0, define.ExitCode);
                Assert.Contains("defined", define.Output);
            }
            Assert.Equal("defined", await Status("db-1"));
            Assert.Null((await Guest("db-1")).GetProperty("host").GetString());
            Assert.Contains("guest db-1 defined", await http.GetStringAsync("/api/events?kind=guest-defined"));

            // start: placed by the policy.
            using (var start = await Cli("guest", "db-1", "start"))
            {
                Assert.Equal(0, start.ExitCode);
                Assert.Contains("db-1 → hv-00", start.Output);
            }
            Assert.Equal("running", await Status("db-1"));
            var first = (await Guest("db-1")).GetProperty("host").GetString()!;
            await AssertProblem(await http.PostAsync("/api/guests/db-1/start", null), 409, null);
            await AssertProblem(await http.PutAsync("/api/guests/db-1", Json("""{"name":"db-1","vCpus":4,"memoryMiB":1024}""")), 409, null);
            await AssertProblem(await http.DeleteAsync("/api/guests/db-1"), 409, null);

            // Paused is a state of its own; shutdown reaches a paused guest too (it runs again to hear the button).
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/api/guests/db-1/actions", Json("""{"action":"stop"}"""))).StatusCode);
            Assert.Equal("paused", await Status("db-1"));
            using (var shutdown = await Cli("guest", "db-1", "shutdown", "--wait", "30"))
            {
                Assert.Equal(0, shutdown.ExitCode);
                Assert.Contains("shut-off", shutdown.Output);
            }
            var down = await Guest("db-1");
            Assert.Equal("shut-off", down.GetProperty("status").GetString());
            Assert.Equal(first, down.GetProperty("host").GetString()); // where it last ran (its local disks would be there)
            Assert.Contains("powered itself off", await http.GetStringAsync("/api/events?kind=guest-shut-off"));
            Assert.DoesNotContain("db-1", await http.GetStringAsync("/api/events?kind=guest-lost"));

            // edit a stopped guest: validated as at define, unknown fields are errors naming the field.
            await AssertProblem(await http.PutAsync("/api/guests/db-1", Json("""{"name":"db-1","vCpus":4,"memoryMiB":1024,"initrd":"/boot/initrd.img"}""")), 400, "initrd");
            await AssertProblem(await http.PutAsync("/api/guests/db-1", Json("""{"name":"db-1","vCpus":4,"memoryMiB":1024,"boot":{"order":"cc"}}""")), 400, "boot.order");
            await AssertProblem(await http.PutAsync("/api/guests/db-1", Json("""{"name":"db-1","vCpus":4,"memoryMiB":1024,"boot":{"initrd":"/boot/initrd.img"}}""")), 400, "boot.initrd");
            await AssertProblem(await http.PutAsync("/api/guests/db-1", Json("""{"name":"db-1","vCpus":4,"memoryMiB":1024,"cdrom":"../../etc/shadow"}""")), 400, "cdrom");
            await AssertProblem(await http.PutAsync("/api/guests/db-1", Json("""{"name":"db-1","vCpus":4,"memoryMiB":1024,"boot":{"order":"dc"}}""")), 400, "boot.order");
            await AssertProblem(await http.PutAsync("/api/guests/db-2", Json("""{"name":"db-1","vCpus":4,"memoryMiB":1024}""")), 400, "name");
            var edited = await http.PutAsync("/api/guests/db-1", Json("""{"name":"db-1","vCpus":4,"memoryMiB":1024,"cdrom":"/srv/iso/debian.iso","boot":{"order":"dc"}}"""));
            Assert.Equal(HttpStatusCode.OK, edited.StatusCode);
            Assert.Equal("defined", await Status("db-1"));
            Assert.Equal(4, (await Guest("db-1")).GetProperty("spec").GetProperty("vCpus").GetInt32());

            // start on a host an operator names; one that cannot take it says why.
            var other = new[] { "hv-001", "hv-002", "hv-003" }.First(h => h != first);
            await AssertProblem(await http.PostAsync("/api/guests/db-1/start", Json("""{"host":"hv-999"}""")), 404, null);
            using (var pinned = await Cli("guest", "db-1", "start", "--host", other))
            {
                Assert.Equal(0, pinned.ExitCode);
                Assert.Contains($"db-1 → {other}", pinned.Output);
                Assert.Contains("as asked", pinned.Output);
            }
            Assert.Equal(other, (await Guest("db-1")).GetProperty("host").GetString());

            // destroy kills it (shut off, on record), restart brings it back on the same host.
            using (var destroy = await Cli("guest", "db-1", "destroy")) Assert.Equal(0, destroy.ExitCode);
            Assert.Equal("shut-off", await Status("db-1"));
            Assert.Contains("destroyed", await http.GetStringAsync("/api/events?kind=guest-destroyed"));
            await AssertProblem(await http.PostAsync("/api/guests/db-1/destroy", null), 409, null);
            await AssertProblem(await http.PostAsync("/api/guests/db-1/shutdown", null), 409, null);
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/api/guests/db-1/start", null)).StatusCode);
            using (var restart = await Cli("guest", "db-1", "restart"))
            {
                Assert.Equal(0, restart.ExitCode);
                Assert.Contains("db-1 → ", restart.Output);
            }
            Assert.Equal("running", await Status("db-1"));
            await AssertProblem(await http.PostAsync("/api/guests/db-1/shutdown", Json("""{"timeoutSeconds":0}""")), 400, "timeoutSeconds");

            // The monitor passthrough is for admins only; an operator's token is refused before anything reaches QEMU.
            var created = JsonDocument.Parse(await (await http.PostAsync("/api/tokens", Json("""{"name":"ops","role":"operator"}"""))).Content.ReadAsStringAsync()).RootElement;
            using (var asOperator = new HttpRequestMessage(HttpMethod.Post, "/api/guests/db-1/monitor") { Content = Json("""{"command":"info status"}""") })
            {
                asOperator.Headers.Authorization = new AuthenticationHeaderValue("Bearer", created.GetProperty("token").GetString());
                Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(asOperator)).StatusCode);
            }
            await AssertProblem(await http.PostAsync("/api/guests/db-1/monitor", Json("""{"command":""}""")), 400, "command");
            await AssertProblem(await http.PostAsync("/api/guests/db-1/monitor", Json("""{"command":"info status"}""")), 400, "command"); // the simulated driver has no monitor

            // undefine: refused while it runs, then the record is gone (and the name free again).
            using (var running = await Cli("guest", "db-1", "undefine"))
            {
                Assert.Equal(1, running.ExitCode);
                Assert.Contains("409", running.Output);
            }
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/api/guests/db-1/shutdown", Json("""{"timeoutSeconds":30}"""))).StatusCode);
            using (var undefine = await Cli("guest", "db-1", "undefine", "--remove-disks")) Assert.True(undefine.ExitCode == 0, undefine.Output);
            await AssertProblem(await http.GetAsync("/api/guests/db-1"), 404, null);
            Assert.DoesNotContain("db-1", await http.GetStringAsync("/api/guests"));
            await AssertProblem(await http.PostAsync("/api/guests/db-1/start", null), 404, null);
            using (var noFile = await Cli("guest", "db-1", "edit")) Assert.Equal(2, noFile.ExitCode);
            Assert.Equal(HttpStatusCode.Created, (await http.PutAsync("/api/guests/db-1", Json("""{"name":"db-1","vCpus":1,"memoryMiB":512}"""))).StatusCode);

            // A spec in YAML is the same spec: typed as YAML's core schema, read as strictly.
            var yaml = Path.Combine(work.FullName, "yml-1.yaml");
            await File.WriteAllTextAsync(yaml, "name: yml-1\nvCpus: 2\nmemoryMiB: 512\nlabels:\n  build: \"007\"\nboot:\n  order: c\n");
            using (var define = await Cli("define", "-f", yaml)) Assert.True(define.ExitCode == 0, define.Output);
            var fromYaml = (await Guest("yml-1")).GetProperty("spec");
            Assert.Equal(2, fromYaml.GetProperty("vCpus").GetInt32());
            Assert.Equal("007", fromYaml.GetProperty("labels").GetProperty("build").GetString());
            Assert.Equal("c", fromYaml.GetProperty("boot").GetProperty("order").GetString());
            await File.WriteAllTextAsync(yaml, "name: yml-1\nvCpus: 2\nmemoryMib: 512\n");
            using (var typo = await Cli("define", "-f", yaml))
            {
                Assert.Equal(2, typo.ExitCode); // a 400: the user's mistake
                Assert.Contains("memoryMib", typo.Output);
            }

            // The cluster's CPU baseline: guests that leave their CPU at the default get its model; hosts that cannot
            // run it are named and take none of them.
            using (var none = await Cli("baseline"))
            {
                Assert.Contains("no CPU baseline set", none.Output);
                Assert.Contains("Skylake-Server", none.Output); // every simulated host offers it
            }
            using (var foreign = await Cli("baseline", "set", "EPYC-Rome"))
            {
                Assert.Equal(0, foreign.ExitCode);
                Assert.Contains("cannot run it", foreign.Output);
                Assert.Contains("hv-001", foreign.Output);
            }
            Assert.Equal(HttpStatusCode.Created, (await http.PutAsync("/api/guests/base-1", Json("""{"name":"base-1","vCpus":1,"memoryMiB":512}"""))).StatusCode);
            Assert.Equal("EPYC-Rome", (await Guest("base-1")).GetProperty("spec").GetProperty("cpu").GetProperty("model").GetString());
            await AssertProblem(await http.PostAsync("/api/guests/base-1/start", null), 409, null); // no host offers it
            using (var set = await Cli("baseline", "set", "Skylake-Server")) Assert.DoesNotContain("cannot run it", set.Output);
            Assert.Equal(HttpStatusCode.Created, (await http.PostAsync("/api/guests", Json("""{"name":"base-2","vCpus":1,"memoryMiB":512}"""))).StatusCode);
            Assert.Equal("Skylake-Server", (await Guest("base-2")).GetProperty("spec").GetProperty("cpu").GetProperty("model").GetString());
            Assert.Equal(HttpStatusCode.Created, (await http.PostAsync("/api/guests", Json("""{"name":"base-3","vCpus":1,"memoryMiB":512,"cpu":{"mode":"custom","model":"kvm64","flags":[]}}"""))).StatusCode);
            Assert.Equal("kvm64", (await Guest("base-3")).GetProperty("spec").GetProperty("cpu").GetProperty("model").GetString()); // a chosen CPU stays
            await AssertProblem(await http.PutAsync("/api/baseline", Json("""{"model":"Skylake;reboot"}""")), 400, "model");
            Assert.Contains("CPU baseline set to Skylake-Server", await http.GetStringAsync("/api/events?kind=cpu-baseline"));

            // Cold by shutting down (for guests that cannot move even paused): shut down here, started there.
            var wasOn = (await Guest("base-2")).GetProperty("host").GetString()!;
            var elsewhere = new[] { "hv-001", "hv-002", "hv-003" }.First(h => h != wasOn);
            using (var cold = await Cli("migrate", "base-2", "--to", elsewhere, "--offline", "--shutdown"))
            {
                Assert.True(cold.ExitCode == 0, cold.Output);
                Assert.Contains($"started on {elsewhere}", cold.Output);
            }
            Assert.Equal((elsewhere, "running"), ((await Guest("base-2")).GetProperty("host").GetString(), await Status("base-2")));
            Assert.Contains("powered itself off", await http.GetStringAsync("/api/events?subject=base-2&kind=guest-shut-off"));
            await AssertProblem(await http.PostAsync("/api/migrations", Json("""{"guest":"base-2","shutdown":true,"to":"hv-001"}""")), 400, "shutdown");
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
}
