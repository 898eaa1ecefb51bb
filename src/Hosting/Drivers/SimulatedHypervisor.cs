using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Ports;
using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Model;
using Host = KvmCluster.Policies.Model.Host;

namespace KvmCluster.Hosting.Drivers;

/// <summary>
/// A hypervisor without QEMU: guests are records, but a migration really streams the guest's (scaled) memory over
/// TCP from the source silo's driver to a listener the destination's driver opened, like QEMU's migration stream.
/// So a destination that dies mid-migration breaks the transfer exactly as it would with QEMU, and the source keeps
/// the guest.
/// </summary>
/// <remarks>With a power controller, the host is as powered as the controller's status says: off or standby when it
/// says so, and on only <see cref="SimulatedDriverOptions.BootSeconds"/> after it says on again (a boot).</remarks>
public sealed class SimulatedHypervisor(string name, ISimulatedWorld world, SimulatedDriverOptions options, IPowerController? power = null) : IHypervisor, IAsyncDisposable
{
    private enum RunState { Running, Paused, Incoming, Received }
    private sealed class SimGuest(Guest spec, RunState state)
    {
        public Guest Spec { get; set; } = spec;
        public RunState State { get; set; } = state;
        public TcpListener? Listener { get; set; }
        /// <summary>A transfer out is under way.</summary>
        public bool Sending { get; set; }
        /// <summary>Its whole state went to a destination (the source copy is paused, as QEMU's postmigrate).</summary>
        public bool HandedOver { get; set; }
    }

    private const int ChunkBytes = 4096;
    private const byte Data = 1, End = 2, Ack = 3;
    private readonly ConcurrentDictionary<string, SimGuest> _guests = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private SimulatedDriverOptions O => options;

    public string Kind => "simulated";

    private DateTime? _bootedAt; // when a boot that is under way ends (real time)
    private PowerState _power = PowerState.On;

    public async Task<(Host Facts, string? Problem)> DiscoverAsync(CancellationToken cancellationToken)
    {
        var facts = world.Facts(name);
        if (power is not null && O.FollowPowerController && await PowerAsync(cancellationToken) is { } p) facts = facts with { Power = p };
        return (facts, null);
    }

    /// <summary>The power state the controller gives this host (booting hosts stay off until booted); null when it does not know.</summary>
    private async Task<PowerState?> PowerAsync(CancellationToken cancellationToken)
    {
        var status = await power!.StatusAsync(name, cancellationToken);
        if (status == HostPowerStatus.Unknown) return null; // no controller (--power none): the world's facts stand
        var said = status switch { HostPowerStatus.Off => PowerState.Off, HostPowerStatus.Standby => PowerState.Standby, _ => PowerState.On };
        if (said != PowerState.On) { _power = said; _bootedAt = null; return said; }
        if (_power == PowerState.On) return PowerState.On;
        // It was off and the controller says on: it boots.
        _bootedAt ??= DateTime.UtcNow + TimeSpan.FromSeconds(O.BootSeconds / O.TimeScale);
        if (DateTime.UtcNow < _bootedAt) return _power;
        _bootedAt = null;
        return _power = PowerState.On;
    }

    public Task<IReadOnlyList<Guest>> InventoryAsync(CancellationToken cancellationToken)
    {
        // A paused source copy (migration switching over) and an incoming copy are not "running here".
        var list = _guests.Values.Where(g => g.State == RunState.Running).Select(g => g.Spec).OrderBy(g => g.Name, StringComparer.Ordinal).ToList();
        return Task.FromResult<IReadOnlyList<Guest>>(list);
    }

    public Task<IReadOnlyDictionary<string, UsageSample>> SampleAsync(CancellationToken cancellationToken)
    {
        var samples = new SortedDictionary<string, UsageSample>(StringComparer.Ordinal);
        foreach (var g in _guests.Values.Where(g => g.State == RunState.Running)) samples[g.Spec.Name] = world.Sample(name, g.Spec);
        return Task.FromResult<IReadOnlyDictionary<string, UsageSample>>(samples);
    }

    public Task<Guest> LaunchAsync(Guest guest, CancellationToken cancellationToken)
    {
        _exits.TryRemove(guest.Name, out _);
        if (!_guests.TryAdd(guest.Name, new SimGuest(guest, RunState.Running)))
            throw ClusterException.Conflict($"guest '{guest.Name}' already exists on this host");
        return Task.FromResult(guest);
    }

    public Task StopAsync(string guest, CancellationToken cancellationToken)
    {
        if (!_guests.TryRemove(guest, out var g)) throw ClusterException.NotFound($"no guest '{guest}' on this host");
        g.Listener?.Stop();
        return Task.CompletedTask;
    }

    public Task TuneAsync(HostTuning tuning, CancellationToken cancellationToken) =>
        throw ClusterException.Invalid("the simulated driver has no hugepage pools or KSM to tune (use --driver qemu)", "driver");

    public Task<GuestControlResult> ControlAsync(string guest, GuestControl control, CancellationToken cancellationToken)
    {
        if (!_guests.TryGetValue(guest, out var g) || g.State != RunState.Running) throw ClusterException.NotFound($"no running guest '{guest}' on this host");
        switch (control.Action)
        {
            case GuestAction.Status: break;
            // A simulated guest honours the ACPI power button at once: it powers itself off, as a real one would.
            case GuestAction.Powerdown:
                _guests.TryRemove(guest, out _);
                _exits[guest] = new GuestExit(GuestExitKind.ShutDown, "it powered itself off (simulated ACPI shutdown)");
                return Task.FromResult(new GuestControlResult(guest, "shutdown", null, [], []));
            case GuestAction.Stop or GuestAction.Cont:
                g.Spec = g.Spec with { Paused = control.Action == GuestAction.Stop };
                break;
            default: throw ClusterException.Invalid($"the simulated driver does not {control.Action} guests (use --driver qemu)", "action");
        }
        return Task.FromResult(new GuestControlResult(guest, g.Spec.Paused ? "paused" : "running", g.Spec.MemoryMiB, [], []));
    }

    private readonly ConcurrentDictionary<string, GuestExit> _exits = new(StringComparer.Ordinal);

    public Task<ConsoleOutput> ConsoleReadAsync(string guest, long from, CancellationToken cancellationToken) =>
        throw ClusterException.Invalid("the simulated driver's guests have no console (use --driver qemu)", "console");

    public Task ConsoleWriteAsync(string guest, byte[] data, CancellationToken cancellationToken) =>
        throw ClusterException.Invalid("the simulated driver's guests have no console (use --driver qemu)", "console");

    public Task<string?> SerialLogAsync(string guest, int maxBytes, CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    public Task<string> MonitorAsync(string guest, string command, CancellationToken cancellationToken) =>
        throw ClusterException.Invalid("the simulated driver has no QEMU monitor (use --driver qemu)", "command");

    public Task RemoveDisksAsync(Guest guest, CancellationToken cancellationToken) => Task.CompletedTask; // it keeps no images

    public Task AdjustMigrationAsync(string guest, MigrationAdjustment adjustment, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<string> PrepareIncomingAsync(Guest guest, MigrationOrder order, CancellationToken cancellationToken)
    {
        var incoming = new SimGuest(guest, RunState.Incoming);
        if (!_guests.TryAdd(guest.Name, incoming)) throw ClusterException.Conflict($"guest '{guest.Name}' already exists on this host");
        var listener = new TcpListener(IPAddress.Parse(O.ListenAddress), 0);
        listener.Start(1);
        incoming.Listener = listener;
        _ = ReceiveAsync(incoming, listener);
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        return Task.FromResult($"tcp:{O.ListenAddress}:{port}");
    }

    private async Task ReceiveAsync(SimGuest guest, TcpListener listener)
    {
        try
        {
            using var client = await listener.AcceptTcpClientAsync(_stopping.Token);
            listener.Stop();
            var stream = client.GetStream();
            var buffer = new byte[ChunkBytes + 1];
            while (true)
            {
                await stream.ReadExactlyAsync(buffer.AsMemory(0, 1), _stopping.Token);
                if (buffer[0] == End) break;
                if (buffer[0] != Data) throw new IOException("corrupt migration stream");
                await stream.ReadExactlyAsync(buffer.AsMemory(0, ChunkBytes), _stopping.Token);
            }
            guest.State = RunState.Received;
            await stream.WriteAsync(new[] { Ack }, _stopping.Token);
        }
        catch (Exception) when (guest.State == RunState.Incoming)
        {
            // Source gone or cancelled: the incoming copy stays unusable until aborted.
        }
    }

    public async Task MigrateAsync(string guest, string endpoint, MigrationOrder order, Func<MigrationProgress, Task> progress, CancellationToken cancellationToken)
    {
        if (!_guests.TryGetValue(guest, out var g) || g.State != RunState.Running) throw ClusterException.NotFound($"no running guest '{guest}' on this host");
        var (address, port) = ParseEndpoint(endpoint);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        using var client = new TcpClient();
        await client.ConnectAsync(address, port, linked.Token);
        var stream = client.GetStream();
        g.Sending = true;
        try { await SendAsync(g, stream, order, progress, linked.Token); }
        finally { g.Sending = false; }
    }

    private async Task SendAsync(SimGuest g, NetworkStream stream, MigrationOrder order, Func<MigrationProgress, Task> progress, CancellationToken token)
    {
        var bandwidth = order.BandwidthMiBps > 0 ? order.BandwidthMiBps : O.BandwidthMiBps;
        var seconds = g.Spec.MemoryMiB / bandwidth / O.TimeScale;
        // One chunk stands for a slice of guest memory; pace the chunks to the simulated bandwidth.
        var chunks = (int)Math.Clamp(g.Spec.MemoryMiB / 4, 4, 2048);
        var pause = seconds / chunks;
        var payload = new byte[ChunkBytes + 1];
        payload[0] = Data;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        for (var i = 0; i < chunks; i++)
        {
            await stream.WriteAsync(payload, token);
            // Pace to the simulated bandwidth; sleep only when ahead by a millisecond or more (timer granularity).
            var ahead = TimeSpan.FromSeconds(pause * (i + 1)) - clock.Elapsed;
            if (ahead >= TimeSpan.FromMilliseconds(1)) await Task.Delay(ahead, token);
            if (clock.Elapsed - lastReport > TimeSpan.FromMilliseconds(250) || i == chunks - 1)
            {
                lastReport = clock.Elapsed;
                var sent = g.Spec.MemoryMiB * (i + 1) / chunks;
                await progress(new MigrationProgress(sent, g.Spec.MemoryMiB - sent, 8.0, order.DowntimeMs));
            }
        }
        // Stop-and-copy: the source pauses, sends the rest and waits for the destination to have everything.
        g.State = RunState.Paused;
        try
        {
            await stream.WriteAsync(new[] { End }, token);
            var ack = new byte[1];
            await stream.ReadExactlyAsync(ack, token);
            if (ack[0] != Ack) throw new IOException("destination did not acknowledge the migration");
            g.HandedOver = true;
        }
        catch
        {
            g.State = RunState.Running;
            throw;
        }
    }

    public Task<SourceFact> OutgoingStateAsync(string guest, CancellationToken cancellationToken) => Task.FromResult(
        !_guests.TryGetValue(guest, out var g) || g.State is RunState.Incoming or RunState.Received ? SourceFact.Gone
        : g.Sending ? SourceFact.Sending
        : g.HandedOver ? SourceFact.HandedOver
        : g.State == RunState.Paused ? SourceFact.Paused
        : SourceFact.Running);

    public Task<DestinationFact> IncomingStateAsync(string guest, CancellationToken cancellationToken) => Task.FromResult(
        !_guests.TryGetValue(guest, out var g) ? DestinationFact.Gone
        : g.State switch
        {
            RunState.Incoming => DestinationFact.Receiving,
            RunState.Received => DestinationFact.Received,
            RunState.Running => DestinationFact.Running,
            _ => DestinationFact.Gone,
        });

    /// <summary>The simulated driver has no post-copy phase: its transfers end with the whole guest received.</summary>
    public Task AllowIncomingToRunAsync(string guest, CancellationToken cancellationToken) => Task.CompletedTask;

    public GuestExit? ExitOf(string guest) => _exits.GetValueOrDefault(guest);

    /// <summary>Simulated guests live in the silo's memory: nothing outlives it, nothing is adopted.</summary>
    public IReadOnlyList<AdoptedMigration> AdoptedMigrations() => [];

    public Task WatchOutgoingAsync(string guest, MigrationOrder order, Func<MigrationProgress, Task> progress, CancellationToken cancellationToken) =>
        throw ClusterException.NotFound($"no transfer of '{guest}' to follow on this host");

    public Task CommitIncomingAsync(string guest, CancellationToken cancellationToken)
    {
        if (!_guests.TryGetValue(guest, out var g)) throw ClusterException.NotFound($"no incoming guest '{guest}' on this host");
        if (g.State == RunState.Running) return Task.CompletedTask; // already committed (idempotent)
        if (g.State != RunState.Received) throw ClusterException.Conflict($"guest '{guest}' has not been fully received");
        g.State = RunState.Running;
        return Task.CompletedTask;
    }

    public Task AbortIncomingAsync(string guest, CancellationToken cancellationToken)
    {
        if (_guests.TryGetValue(guest, out var g) && g.State is RunState.Incoming or RunState.Received)
        {
            g.Listener?.Stop();
            _guests.TryRemove(guest, out _);
        }
        return Task.CompletedTask;
    }

    public Task ReleaseOutgoingAsync(string guest, CancellationToken cancellationToken)
    {
        if (_guests.TryGetValue(guest, out var g) && g.State == RunState.Paused) _guests.TryRemove(guest, out _);
        return Task.CompletedTask;
    }

    public Task ResumeOutgoingAsync(string guest, CancellationToken cancellationToken)
    {
        if (_guests.TryGetValue(guest, out var g) && g.State == RunState.Paused) { g.State = RunState.Running; g.HandedOver = false; }
        return Task.CompletedTask;
    }

    // A simulated transfer lives only in its sender: when that is gone, there is nothing left to stop.
    public Task CancelTransferAsync(string guest, CancellationToken cancellationToken) => Task.CompletedTask;

    private static (string Address, int Port) ParseEndpoint(string endpoint)
    {
        var parts = endpoint.Split(':');
        if (parts.Length != 3 || parts[0] != "tcp" || !IPAddress.TryParse(parts[1], out _) || !int.TryParse(parts[2], out var port))
            throw ClusterException.Invalid($"bad migration endpoint '{endpoint}'", "endpoint");
        return (parts[1], port);
    }

    public ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        foreach (var g in _guests.Values) g.Listener?.Stop();
        return ValueTask.CompletedTask;
    }
}
