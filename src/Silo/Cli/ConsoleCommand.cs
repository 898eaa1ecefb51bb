using System.CommandLine;
using System.Net.WebSockets;
using static KvmCluster.Silo.Cli.ClusterCommands;

namespace KvmCluster.Silo.Cli;

/// <summary>
/// `kvmcluster console NAME`: the guest's serial console through the API (a WebSocket, one writer at a time), as
/// `virsh console` is; Ctrl-] leaves. `--log` prints the serial log from whichever host runs the guest.
/// </summary>
public static class ConsoleCommand
{
    private const byte Escape = 0x1d; // Ctrl-], as virsh console and telnet

    public static Command Create()
    {
        var guest = new Argument<string>("guest");
        var log = new Option<bool>("--log") { Description = "Print the serial log instead of attaching" };
        var bytes = new Option<int>("--bytes") { Description = "--log: at most this many bytes from its end", DefaultValueFactory = _ => 64 * 1024 };
        var cmd = Verb("console", "Attach to a guest's serial console (Ctrl-] leaves), or print its serial log (--log)", async (c, p) =>
        {
            var name = Uri.EscapeDataString(p.GetValue(guest)!);
            if (p.GetValue(log))
            {
                Console.Out.Write(await c.GetText($"api/guests/{name}/console/log?bytes={p.GetValue(bytes)}"));
                return 0;
            }
            using var leave = new CancellationTokenSource();
            using var socket = await c.WebSocket($"api/guests/{name}/console", leave.Token);
            if (!Console.IsInputRedirected) Console.Error.WriteLine($"connected to {p.GetValue(guest)}'s console; Ctrl-] leaves");
            var output = Task.Run(() => Receive(socket, leave.Token));
            await Send(socket, leave);
            try { await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "left", CancellationToken.None); } catch (WebSocketException) { }
            await leave.CancelAsync();
            try { await output; } catch (OperationCanceledException) { }
            return 0;
        });
        cmd.Arguments.Add(guest);
        cmd.Options.Add(log);
        cmd.Options.Add(bytes);
        return cmd;
    }

    private static async Task Receive(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var stdout = Console.OpenStandardOutput();
        var buffer = new byte[8192];
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                var r = await socket.ReceiveAsync(buffer, cancellationToken);
                if (r.MessageType == WebSocketMessageType.Close) break;
                await stdout.WriteAsync(buffer.AsMemory(0, r.Count), cancellationToken);
                await stdout.FlushAsync(cancellationToken);
            }
        }
        catch (WebSocketException) { }
    }

    /// <summary>Keys from a terminal (raw, one at a time) or bytes from redirected input, until Ctrl-] or the end of input.</summary>
    private static async Task Send(ClientWebSocket socket, CancellationTokenSource leave)
    {
        if (!Console.IsInputRedirected)
        {
            while (socket.State == WebSocketState.Open)
            {
                var key = await Task.Run(() => Console.ReadKey(intercept: true));
                if (key.KeyChar == (char)Escape) return;
                var bytes = key.Key == ConsoleKey.Enter ? "\r"u8.ToArray() : System.Text.Encoding.UTF8.GetBytes(key.KeyChar.ToString());
                if (bytes.Length > 0 && key.KeyChar != '\0' || key.Key == ConsoleKey.Enter) await socket.SendAsync(bytes, WebSocketMessageType.Binary, true, leave.Token);
            }
            return;
        }
        var stdin = Console.OpenStandardInput();
        var buffer = new byte[1024];
        while (socket.State == WebSocketState.Open && await stdin.ReadAsync(buffer) is var n and > 0)
        {
            var end = Array.IndexOf(buffer, Escape, 0, n);
            if (end != 0) await socket.SendAsync(buffer.AsMemory(0, end < 0 ? n : end), WebSocketMessageType.Binary, true, leave.Token);
            if (end >= 0) break;
        }
        // Input ended: give the guest a moment to answer what it was sent.
        await Task.Delay(TimeSpan.FromSeconds(2));
    }
}
