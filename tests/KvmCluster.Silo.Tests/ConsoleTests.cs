using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using static KvmCluster.Silo.Tests.ApiTests;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// The serial console of a real Linux guest through a real silo process on the QEMU driver: `kvmcluster console NAME`
/// types into the guest's shell over the API's WebSocket and shows what it answers; one writer at a time; `--log`
/// prints the serial log from the host that runs the guest.
/// </summary>
[Collection("qemu")]
public sealed class ConsoleTests
{
    [Fact]
    public async Task An_operator_types_into_a_Linux_guests_shell_through_the_API_and_reads_its_serial_log()
    {
        _ = (LinuxTestGuest.Kernel, LinuxTestGuest.Initrd, TestGuest.Qemu);
        var work = Directory.CreateTempSubdirectory("kvc-con-");
        var api = $"http://127.0.0.1:{ExternalProcess.FreePort()}";
        using var silo = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, "--hypervisor", "hv-c", "--driver", "qemu", "--api-url", api, "--state-dir", work.FullName,
            "--silo-port", ExternalProcess.FreePort().ToString(), "--gateway-port", ExternalProcess.FreePort().ToString(), "--planning-interval", "0", "--api-token", "console-token"],
            new Dictionary<string, string> { ["KVMCLUSTER__QEMU__BINARY"] = TestGuest.Qemu, ["KVMCLUSTER__QEMU__ACCEL"] = "tcg", ["KVMCLUSTER__QEMU__STOPGUESTSONSHUTDOWN"] = "true" });
        using var http = new HttpClient { BaseAddress = new Uri(api), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "console-token");
        async Task<ExternalProcess> Cli(string? input, params string[] args)
        {
            var p = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, .. args, "--api", api, "--token", "console-token"], input: input);
            await p.WaitAsync(TimeSpan.FromSeconds(90));
            return p;
        }
        try
        {
            await WaitUntilUp(http, silo);
            var spec = new Dictionary<string, object?>
            {
                ["name"] = "con-1",
                ["vCpus"] = 1,
                ["memoryMiB"] = 256,
                ["boot"] = new { kernel = LinuxTestGuest.Kernel, initrd = LinuxTestGuest.Initrd, append = "console=ttyS0 quiet" },
            };
            Assert.Equal(HttpStatusCode.Created, (await http.PutAsJsonAsync("/api/guests/con-1", spec)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/api/guests/con-1/start", null)).StatusCode);
            await ThreeHypervisors.Eventually(() => http.GetStringAsync("/api/guests/con-1/console/log"), log => log.Contains("KVMTEST-BEAT", StringComparison.Ordinal), TimeSpan.FromSeconds(120));

            // --log: the serial log from the host that runs it.
            using (var log = await Cli(null, "console", "con-1", "--log"))
            {
                Assert.Equal(0, log.ExitCode);
                Assert.Contains("KVMTEST-READY", log.Output);
            }

            // Typing into the guest's shell: the guest computes the answer, so it cannot be an echo of what was sent.
            using (var typed = await Cli("echo CONSOLE-$((6*7))\n", "console", "con-1"))
            {
                Assert.True(typed.ExitCode == 0, typed.Output);
                Assert.Contains("CONSOLE-42", typed.Output);
            }

            // One writer at a time: while a session holds the console, another is refused.
            using (var holder = new ClientWebSocket())
            {
                holder.Options.SetRequestHeader("Authorization", "Bearer console-token");
                await holder.ConnectAsync(new Uri(api.Replace("http", "ws") + "/api/guests/con-1/console"), CancellationToken.None);
                using (var second = await Cli("", "console", "con-1"))
                {
                    Assert.Equal(1, second.ExitCode);
                    Assert.Contains("another console is attached", second.Output);
                }
                await holder.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            }
            Assert.Contains("attached by bootstrap", await http.GetStringAsync("/api/events?kind=console-attached"));

            // Without the token, no console.
            using var anonymous = new ClientWebSocket();
            await Assert.ThrowsAsync<WebSocketException>(() => anonymous.ConnectAsync(new Uri(api.Replace("http", "ws") + "/api/guests/con-1/console"), CancellationToken.None));
            Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/api/guests/con-1/console")).StatusCode); // not a WebSocket
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException($"{e}\n--- silo ---\n{silo.Output}");
        }
        finally
        {
            silo.Dispose();
            try { work.Delete(recursive: true); } catch (IOException) { }
        }
    }
}
