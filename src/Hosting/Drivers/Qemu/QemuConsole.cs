using System.Net.Sockets;

namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>
/// A guest's serial console on this host: the silo is the one client of QEMU's console socket (server, one client),
/// and keeps the last 256 KiB the guest wrote with a running offset, so a console reader anywhere in the cluster asks
/// "what came after N" and never misses or repeats a byte while it keeps up.
/// </summary>
public sealed class QemuConsole : IAsyncDisposable
{
    private const int Keep = 256 * 1024;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly Task _reader;
    private readonly CancellationTokenSource _closing = new();
    private readonly object _gate = new();
    private byte[] _buffer = [];
    private long _start; // offset of _buffer[0] in everything the guest wrote since this console attached

    private QemuConsole(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _reader = Task.Run(ReadLoop);
    }

    public static async Task<QemuConsole> ConnectAsync(string path, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try { await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken); }
        catch { socket.Dispose(); throw; }
        return new QemuConsole(socket);
    }

    public bool Closed => _reader.IsCompleted;

    /// <summary>What the guest wrote from <paramref name="from"/> on (what is still kept), and the offset to ask next.</summary>
    public (byte[] Data, long Next) Read(long from)
    {
        lock (_gate)
        {
            var end = _start + _buffer.Length;
            var at = Math.Clamp(from, _start, end);
            return (_buffer[(int)(at - _start)..], end);
        }
    }

    public Task WriteAsync(byte[] data, CancellationToken cancellationToken) => _stream.WriteAsync(data, cancellationToken).AsTask();

    private async Task ReadLoop()
    {
        var chunk = new byte[4096];
        try
        {
            while (await _stream.ReadAsync(chunk, _closing.Token) is var n and > 0)
                lock (_gate)
                {
                    var joined = new byte[_buffer.Length + n];
                    _buffer.CopyTo(joined, 0);
                    chunk.AsSpan(0, n).CopyTo(joined.AsSpan(_buffer.Length));
                    var drop = Math.Max(0, joined.Length - Keep);
                    _buffer = joined[drop..];
                    _start += drop;
                }
        }
        catch (Exception) { /* QEMU went, or this console closed */ }
    }

    public async ValueTask DisposeAsync()
    {
        _closing.Cancel();
        _socket.Dispose();
        try { await _reader; } catch (Exception) { }
        await _stream.DisposeAsync();
        _closing.Dispose();
    }
}
