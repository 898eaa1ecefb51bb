using System.Net.WebSockets;
using KvmCluster.Grains.Contracts;

namespace KvmCluster.Silo.Api;

/// <summary>
/// Relays a console WebSocket to the guest's host grain: what the operator types goes to the guest's serial console,
/// what the guest writes comes back (asked for every 50 ms from the offset last seen), until either side closes.
/// </summary>
public static class GuestConsole
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    public static async Task RelayAsync(WebSocket socket, IHostGrain host, string guest, string session, long from, CancellationToken aborted)
    {
        using var done = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var typing = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            try
            {
                while (!done.IsCancellationRequested)
                {
                    var r = await socket.ReceiveAsync(buffer, done.Token);
                    if (r.MessageType == WebSocketMessageType.Close) break;
                    if (r.Count > 0) await host.ConsoleWrite(guest, session, buffer[..r.Count]);
                }
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException) { }
            finally { await done.CancelAsync(); }
        }, CancellationToken.None);
        try
        {
            while (!done.IsCancellationRequested && socket.State == WebSocketState.Open)
            {
                var output = await host.ConsoleRead(guest, session, from);
                from = output.Next;
                if (output.Data.Length > 0) await socket.SendAsync(output.Data, WebSocketMessageType.Binary, true, done.Token);
                else await Task.Delay(Poll, done.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ClusterException) { }
        finally
        {
            await done.CancelAsync();
            await typing;
            await host.ConsoleDetach(guest, session);
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                try { await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "console closed", CancellationToken.None); } catch (WebSocketException) { }
        }
    }
}
