using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>An error QEMU answered a command with (its class, e.g. GenericError, DeviceNotFound, and description).</summary>
public sealed class QmpException(string command, string errorClass, string description)
    : Exception($"QEMU refused {command}: {errorClass}: {description}")
{
    public string Command { get; } = command;
    public string ErrorClass { get; } = errorClass;
    public string Description { get; } = description;
}

/// <summary>An asynchronous event QEMU sent (MIGRATION, STOP, RESUME, SHUTDOWN, BALLOON_CHANGE, …).</summary>
public sealed record QmpEvent(string Name, JsonElement Data, DateTimeOffset At);

/// <summary>
/// A QMP connection over QEMU's unix socket: the greeting and capability negotiation, commands matched to their
/// answers by id (so events in between never confuse them), a timeout on every command, and events on a channel.
/// </summary>
public sealed class QmpClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<string, (string Command, TaskCompletionSource<JsonElement> Answer)> _pending = new();
    private readonly Channel<QmpEvent> _events = Channel.CreateBounded<QmpEvent>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly CancellationTokenSource _closing = new();
    private readonly Task _reader;
    private long _nextId;

    /// <summary>QEMU's version from the greeting, e.g. 7.2.0.</summary>
    public string Version { get; private set; } = "";
    public ChannelReader<QmpEvent> Events => _events.Reader;
    /// <summary>Completes when QEMU closes the connection (it exited) or the client is disposed.</summary>
    public Task Closed => _reader;

    private QmpClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = Task.Run(ReadLoop);
    }

    public static async Task<QmpClient> ConnectAsync(string socketPath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // QEMU creates the socket as it starts: retry until it listens.
            while (true)
            {
                try { await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), deadline.Token); break; }
                catch (SocketException) when (!deadline.IsCancellationRequested) { await Task.Delay(20, deadline.Token); }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"QMP socket {socketPath} did not accept a connection within {timeout.TotalSeconds:0.#} s");
        }
        catch { socket.Dispose(); throw; }
        var client = new QmpClient(socket);
        try
        {
            var greeting = await client._greeting.Task.WaitAsync(timeout, cancellationToken);
            var v = greeting.GetProperty("QMP").GetProperty("version").GetProperty("qemu");
            client.Version = $"{v.GetProperty("major").GetInt32()}.{v.GetProperty("minor").GetInt32()}.{v.GetProperty("micro").GetInt32()}";
            await client.ExecuteAsync("qmp_capabilities", null, timeout, cancellationToken);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    private readonly TaskCompletionSource<JsonElement> _greeting = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Runs a command; returns its "return" value, throws <see cref="QmpException"/> with QEMU's error.</summary>
    public async Task<JsonElement> ExecuteAsync(string command, object? arguments = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var id = "kvm-" + Interlocked.Increment(ref _nextId);
        var answer = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = (command, answer);
        try
        {
            var message = new JsonObject { ["execute"] = command, ["id"] = id };
            if (arguments is not null) message["arguments"] = JsonSerializer.SerializeToNode(arguments);
            var bytes = Encoding.UTF8.GetBytes(message.ToJsonString() + "\n");
            await _writeLock.WaitAsync(cancellationToken);
            try { await _stream.WriteAsync(bytes, cancellationToken); }
            catch (IOException e) { throw new QmpException(command, "Disconnected", e.Message); }
            finally { _writeLock.Release(); }
            var limit = timeout ?? TimeSpan.FromSeconds(10);
            try { return await answer.Task.WaitAsync(limit, cancellationToken); }
            catch (TimeoutException) { throw new TimeoutException($"QEMU did not answer {command} within {limit.TotalSeconds:0.#} s"); }
        }
        finally { _pending.TryRemove(id, out _); }
    }

    private async Task ReadLoop()
    {
        var reader = new StreamReader(_stream, Encoding.UTF8);
        try
        {
            while (await reader.ReadLineAsync(_closing.Token) is { } line)
            {
                if (line.Length == 0) continue;
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement.Clone();
                if (root.TryGetProperty("QMP", out _)) _greeting.TrySetResult(root);
                else if (root.TryGetProperty("event", out var name))
                {
                    var at = root.TryGetProperty("timestamp", out var ts)
                        ? DateTimeOffset.FromUnixTimeMilliseconds(ts.GetProperty("seconds").GetInt64() * 1000 + ts.GetProperty("microseconds").GetInt64() / 1000)
                        : DateTimeOffset.UtcNow;
                    _events.Writer.TryWrite(new QmpEvent(name.GetString()!, root.TryGetProperty("data", out var d) ? d : default, at));
                }
                else if (root.TryGetProperty("id", out var idElement) && idElement.GetString() is { } id && _pending.TryGetValue(id, out var waiter))
                {
                    if (root.TryGetProperty("error", out var error))
                        waiter.Answer.TrySetException(new QmpException(waiter.Command, error.GetProperty("class").GetString() ?? "?", error.GetProperty("desc").GetString() ?? ""));
                    else waiter.Answer.TrySetResult(root.TryGetProperty("return", out var r) ? r : default);
                }
            }
        }
        catch (Exception) when (_closing.IsCancellationRequested) { }
        catch (IOException) { }
        finally
        {
            var gone = new QmpException("(pending)", "Disconnected", "QEMU closed the QMP connection");
            _greeting.TrySetException(gone);
            foreach (var w in _pending.Values) w.Answer.TrySetException(new QmpException(w.Command, "Disconnected", "QEMU closed the QMP connection"));
            _events.Writer.TryComplete();
        }
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _closing.Cancel();
        _socket.Dispose();
        try { await _reader; } catch (Exception) { /* closing */ }
        _closing.Dispose();
        _writeLock.Dispose();
    }
}
