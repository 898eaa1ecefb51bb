using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Ports;
using KvmCluster.Policies.Model;
using KvmCluster.Silo.Facts;
using Microsoft.Extensions.Logging;
using Host = KvmCluster.Policies.Model.Host;

namespace KvmCluster.Silo.Drivers.Qemu;

/// <summary>A completed migration as QEMU measured it: total time and downtime (ms), RAM sent (MiB).</summary>
public sealed record MigrationStats(double TotalMs, double DowntimeMs, double TransferredMiB);

/// <summary>
/// This hypervisor's guests as QEMU processes driven over QMP. A migration goes QEMU to QEMU: the destination starts
/// an identical QEMU with `-incoming defer` and listens; the source migrates to it with the order's bandwidth and
/// downtime limits and reports progress; any failure or cancel leaves the source running.
/// </summary>
public sealed class QemuHypervisor(string name, QemuOptions options, string stateDirectory, ILogger log) : IHypervisor, IAsyncDisposable
{
    private enum Role { Running, Incoming }
    private sealed record Vm(Guest Spec, QemuProcess Qemu, Role Role)
    {
        public (double Seconds, DateTime At) LastCpu { get; set; }
    }

    private readonly ConcurrentDictionary<string, Vm> _vms = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<string> _mounted = [];
    private readonly SemaphoreSlim _probe = new(1, 1);
    private string? _accel;
    private ImmutableSortedSet<string>? _models;
    private string? _problem;
    private double _mhzPerThread = 1000;
    private TimeSpan Timeout => TimeSpan.FromSeconds(options.CommandTimeoutSeconds);
    private string Directory => Path.Combine(stateDirectory, "qemu");

    /// <summary>"qemu 7.2.0 (tcg)" once probed: the host's report says which QEMU and accelerator run its guests.</summary>
    public string Kind => _version is null ? "qemu" : $"qemu {_version} ({_accel})";
    private string? _version;

    public async Task<(Host Facts, string? Problem)> DiscoverAsync(CancellationToken cancellationToken)
    {
        await ProbeAsync(cancellationToken);
        var facts = LinuxHostFacts.Discover(name, "/", _models);
        _mhzPerThread = facts.Host.Cpu.MhzPerThread;
        return (facts.Host with { Name = name, Storage = SharedStorage.Discover(options.SharedMounts, stateDirectory) }, _problem);
    }

    /// <summary>Once: is QEMU there, which accelerator, which CPU models it can give guests here.</summary>
    private async Task ProbeAsync(CancellationToken cancellationToken)
    {
        if (_accel is not null || _problem is not null) return;
        await _probe.WaitAsync(cancellationToken);
        try
        {
            if (_accel is not null || _problem is not null) return;
            System.IO.Directory.CreateDirectory(Directory);
            var kvm = LinuxHostFacts.Discover(name).KvmProblem is null;
            var accel = options.Accel switch { "auto" => kvm ? "kvm" : "tcg", "kvm" or "tcg" => options.Accel, _ => throw new ArgumentException($"KvmCluster:Qemu:Accel '{options.Accel}'") };
            var files = GuestFiles.For(Directory, "probe");
            try
            {
                await using var qemu = await QemuProcess.StartAsync(options.Binary,
                    ["-machine", "none", "-accel", accel, "-nodefaults", "-display", "none", "-S", "-qmp", $"unix:{QemuCommandLine.Escape(files.Qmp)},server=on,wait=off"],
                    files, Timeout, cancellationToken);
                var definitions = await qemu.Qmp.ExecuteAsync("query-cpu-definitions", timeout: Timeout, cancellationToken: cancellationToken);
                _models = [.. definitions.EnumerateArray()
                    .Where(d => !d.TryGetProperty("unavailable-features", out var u) || u.GetArrayLength() == 0)
                    .Select(d => d.GetProperty("name").GetString()!)];
                log.LogInformation("QEMU {Version} with {Accel}: {Count} CPU models usable", qemu.Qmp.Version, accel, _models.Count);
                _version = qemu.Qmp.Version;
                await AdoptAsync();
                await qemu.StopAsync(TimeSpan.FromSeconds(2));
                _accel = accel;
            }
            catch (Exception e) when (e is InvalidOperationException or QemuStartException or TimeoutException or QmpException)
            {
                _problem = $"QEMU is not usable here ({options.Binary}): {e.Message}";
                log.LogWarning("{Problem}; this host accepts no guests", _problem);
            }
        }
        finally { _probe.Release(); }
    }

    private static Task SaveSpec(Guest spec, GuestFiles files) =>
        File.WriteAllTextAsync(files.Spec, JsonSerializer.Serialize(spec, Grains.Serialization.PolicyTypesSerialization.Options));

    /// <summary>
    /// Guests outlive their silo (a hypervisor agent restarts without taking its guests down): a new silo takes over
    /// every QEMU a spec and pid file name that is still running and answers on its QMP socket, and cleans up the rest.
    /// </summary>
    private async Task AdoptAsync()
    {
        foreach (var specFile in System.IO.Directory.EnumerateFiles(Directory, "*.spec.json"))
        {
            var name = Path.GetFileName(specFile)[..^".spec.json".Length];
            if (GuestName.Problem(name) is not null || _vms.ContainsKey(name)) continue;
            var files = GuestFiles.For(Directory, name);
            var qemu = await QemuProcess.AttachAsync(files, Timeout);
            Guest? spec = null;
            try { spec = JsonSerializer.Deserialize<Guest>(await File.ReadAllTextAsync(specFile), Grains.Serialization.PolicyTypesSerialization.Options); }
            catch (JsonException e) { log.LogWarning("spec of {Guest} unreadable: {Error}", name, e.Message); }
            var status = qemu is null ? null : (await qemu.Qmp.ExecuteAsync("query-status", timeout: Timeout)).GetProperty("status").GetString();
            // An incoming copy whose migration the restart interrupted is not a guest: the source still runs it.
            if (qemu is null || spec is null || status is "inmigrate" or "postmigrate" or "shutdown" or "guest-panicked")
            {
                if (qemu is not null) await qemu.KillAsync();
                File.Delete(specFile);
                log.LogInformation("guest {Guest} not adopted (QEMU {State})", name, status ?? "not running");
                continue;
            }
            _vms[name] = new Vm(spec, qemu, Role.Running);
            log.LogInformation("adopted guest {Guest} (QEMU pid {Pid}, {State})", name, qemu.Process.Id, status);
        }
    }

    public Task<IReadOnlyList<Guest>> InventoryAsync(CancellationToken cancellationToken)
    {
        var list = new List<Guest>();
        foreach (var (name, vm) in _vms)
        {
            if (vm.Role == Role.Running && vm.Qemu.HasExited && _vms.TryRemove(name, out _))
            {
                // Its QEMU died: forget it (the host grain reports the loss), keep its serial log for the post-mortem.
                log.LogWarning("QEMU of guest {Guest} exited (code {Code}): {Errors}", name, vm.Qemu.Process.ExitCode, vm.Qemu.Errors);
                _ = vm.Qemu.KillAsync();
                continue;
            }
            if (vm.Role != Role.Running || vm.Qemu.HasExited) continue;
            list.Add(vm.Spec with { Usage = Usage(vm) });
        }
        list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return Task.FromResult<IReadOnlyList<Guest>>(list);
    }

    /// <summary>CPU time since the last look, from /proc/PID/stat, in MHz of this host's threads.</summary>
    private UsageHistory Usage(Vm vm)
    {
        var now = DateTime.UtcNow;
        var seconds = vm.Qemu.Process.TotalProcessorTime.TotalSeconds;
        var (lastSeconds, lastAt) = vm.LastCpu;
        vm.LastCpu = (seconds, now);
        if (lastAt == default) return UsageHistory.Empty;
        var busy = (seconds - lastSeconds) / Math.Max(0.001, (now - lastAt).TotalSeconds);
        return new UsageHistory([busy * _mhzPerThread], [vm.Spec.MemoryMiB], []);
    }

    public async Task LaunchAsync(Guest guest, CancellationToken cancellationToken)
    {
        await EnsureUsable(cancellationToken);
        if (_vms.ContainsKey(guest.Name)) throw ClusterException.Conflict($"guest '{guest.Name}' already exists on this host");
        var qemu = await Start(guest, incoming: false, cancellationToken);
        if (!_vms.TryAdd(guest.Name, new Vm(guest, qemu, Role.Running))) { await qemu.KillAsync(); throw ClusterException.Conflict($"guest '{guest.Name}' already exists on this host"); }
        await SaveSpec(guest, qemu.Files);
    }

    private async Task<QemuProcess> Start(Guest guest, bool incoming, CancellationToken cancellationToken)
    {
        var files = GuestFiles.For(Directory, guest.Name);
        IReadOnlyList<string> args;
        try { args = QemuCommandLine.For(guest, options, _accel!, files, HugepageMount(guest), incoming); }
        catch (ArgumentException e) { throw ClusterException.Invalid(e.Message); }
        if (guest.Boot is { } boot && !File.Exists(boot.Kernel)) throw ClusterException.Invalid($"kernel {boot.Kernel} does not exist on {name}", "boot.kernel");
        if (guest.HugepageSizeKiB is { } size && !options.HugepageMounts.ContainsKey(size.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            if (await HostMemoryTuning.EnsureHugetlbfsAsync(HugepageMount(guest)!, size)) _mounted.Add(HugepageMount(guest)!);
        try { return await QemuProcess.StartAsync(options.Binary, args, files, Timeout, cancellationToken); }
        catch (QemuStartException e) { throw ClusterException.Conflict($"QEMU refused to start guest '{guest.Name}' on {name}: {e.Stderr}"); }
    }

    private string? HugepageMount(Guest guest)
    {
        if (guest.HugepageSizeKiB is not { } size) return null;
        var key = size.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return options.HugepageMounts.TryGetValue(key, out var mount) ? mount : Path.Combine(stateDirectory, $"hugepages-{key}kB");
    }

    public async Task StopAsync(string guest, CancellationToken cancellationToken)
    {
        if (!_vms.TryRemove(guest, out var vm)) throw ClusterException.NotFound($"no guest '{guest}' on this host");
        await vm.Qemu.StopAsync(TimeSpan.FromSeconds(5));
        await vm.Qemu.DisposeAsync();
    }

    public async Task<string> PrepareIncomingAsync(Guest guest, MigrationOrder order, CancellationToken cancellationToken)
    {
        await EnsureUsable(cancellationToken);
        if (_vms.ContainsKey(guest.Name)) throw ClusterException.Conflict($"guest '{guest.Name}' already exists on this host");
        var qemu = await Start(guest, incoming: true, cancellationToken);
        if (!_vms.TryAdd(guest.Name, new Vm(guest, qemu, Role.Incoming))) { await qemu.KillAsync(); throw ClusterException.Conflict($"guest '{guest.Name}' is already arriving"); }
        // Post-copy has to be enabled on both sides before the migration starts.
        if (order.PostCopy) await SetCapabilities(qemu.Qmp, ("postcopy-ram", true));
        await qemu.Qmp.ExecuteAsync("migrate-incoming", new { uri = $"tcp:{options.MigrationAddress}:0" }, Timeout, cancellationToken);
        var state = await qemu.Qmp.ExecuteAsync("query-migrate", timeout: Timeout, cancellationToken: cancellationToken);
        // QEMU chose the port; it reports it as a string.
        var port = state.GetProperty("socket-address")[0].GetProperty("port").GetString();
        return $"tcp:{options.MigrationAddress}:{port}";
    }

    public async Task MigrateAsync(string guest, string endpoint, MigrationOrder order, Func<MigrationProgress, Task> progress, CancellationToken cancellationToken)
    {
        if (!_vms.TryGetValue(guest, out var vm) || vm.Role != Role.Running) throw ClusterException.NotFound($"no running guest '{guest}' on this host");
        if (!endpoint.StartsWith("tcp:", StringComparison.Ordinal)) throw ClusterException.Invalid($"bad migration endpoint '{endpoint}'", "endpoint");
        var qmp = vm.Qemu.Qmp;
        await SetCapabilities(qmp, ("auto-converge", order.AutoConverge), ("postcopy-ram", order.PostCopy));
        await qmp.ExecuteAsync("migrate-set-parameters", new Dictionary<string, object>
        {
            // 0 = no cap: the link's speed, as the cost model assumes (QEMU's own default would be 128 MiB/s).
            ["max-bandwidth"] = order.BandwidthMiBps > 0 ? (long)(order.BandwidthMiBps * 1024 * 1024) : 1L << 40,
            ["downtime-limit"] = order.DowntimeMs > 0 ? (long)order.DowntimeMs : 300L,
        }, Timeout, cancellationToken);
        await qmp.ExecuteAsync("migrate", new { uri = endpoint }, Timeout, cancellationToken);
        try
        {
            while (true)
            {
                await Task.Delay(options.ProgressMilliseconds, cancellationToken);
                var s = await qmp.ExecuteAsync("query-migrate", timeout: Timeout, cancellationToken: cancellationToken);
                var status = s.TryGetProperty("status", out var st) ? st.GetString() : null;
                if (s.TryGetProperty("ram", out var ram)) await progress(Progress(ram, s, order));
                switch (status)
                {
                    case "completed": // the source is paused (postmigrate); the destination runs
                        Measured[guest] = new MigrationStats(Get(s, "total-time"), Get(s, "downtime"), s.TryGetProperty("ram", out var r) ? Get(r, "transferred") / (1024 * 1024) : 0);
                        return;
                    case "failed":
                        throw new InvalidOperationException("QEMU: migration failed" + (s.TryGetProperty("error-desc", out var why) ? ": " + why.GetString() : ""));
                    case "cancelled": throw new OperationCanceledException("QEMU: migration cancelled");
                }
            }
        }
        catch (QmpException e) when (e.ErrorClass == "Disconnected")
        {
            await Task.Delay(100, CancellationToken.None);
            throw new InvalidOperationException(vm.Qemu.HasExited
                ? $"the source QEMU exited during the migration (code {vm.Qemu.Process.ExitCode}): {vm.Qemu.Errors}"
                : $"lost the QMP connection to the source QEMU: {e.Description}");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Cancel: QEMU stops sending and keeps running the source.
            try { await qmp.ExecuteAsync("migrate_cancel", timeout: Timeout); } catch (QmpException e) { log.LogWarning("migrate_cancel of {Guest}: {Error}", guest, e.Message); }
            throw;
        }
    }

    public Task TuneAsync(HostTuning tuning, CancellationToken cancellationToken) => HostMemoryTuning.ApplyAsync(tuning);

    public async Task<GuestControlResult> ControlAsync(string guest, GuestControl control, CancellationToken cancellationToken)
    {
        if (!_vms.TryGetValue(guest, out var vm) || vm.Role != Role.Running || vm.Qemu.HasExited) throw ClusterException.NotFound($"no running guest '{guest}' on this host");
        var operations = new QemuGuestOperations(vm.Qemu.Qmp, Timeout);
        var spec = await operations.ApplyAsync(vm.Spec, control, cancellationToken);
        if (spec != vm.Spec)
        {
            _vms[guest] = vm with { Spec = spec };
            await SaveSpec(spec, vm.Qemu.Files);
        }
        return await operations.ResultAsync(spec, cancellationToken);
    }

    private static double Get(JsonElement e, string property) => e.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;

    /// <summary>What QEMU measured for each guest's last completed outgoing migration.</summary>
    public ConcurrentDictionary<string, MigrationStats> Measured { get; } = new(StringComparer.Ordinal);

    private Task SetCapabilities(QmpClient qmp, params (string Name, bool On)[] capabilities) =>
        qmp.ExecuteAsync("migrate-set-capabilities", new { capabilities = capabilities.Select(c => new { capability = c.Name, state = c.On }).ToArray() }, Timeout);

    public async Task AdjustMigrationAsync(string guest, MigrationAdjustment adjustment, CancellationToken cancellationToken)
    {
        if (!_vms.TryGetValue(guest, out var vm) || vm.Role != Role.Running) throw ClusterException.NotFound($"no running guest '{guest}' on this host");
        if (adjustment.DowntimeMs is { } ms)
            await vm.Qemu.Qmp.ExecuteAsync("migrate-set-parameters", new Dictionary<string, object> { ["downtime-limit"] = (long)ms }, Timeout, cancellationToken);
        if (adjustment.StartPostCopy) await vm.Qemu.Qmp.ExecuteAsync("migrate-start-postcopy", timeout: Timeout, cancellationToken: cancellationToken);
    }

    private static MigrationProgress Progress(JsonElement ram, JsonElement state, MigrationOrder order)
    {
        const double MiB = 1024 * 1024;
        double Get(JsonElement e, string p) => e.TryGetProperty(p, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;
        var dirtyPagesPerSecond = Get(ram, "dirty-pages-rate");
        var pageSize = Get(ram, "page-size") is > 0 and var ps ? ps : 4096;
        return new MigrationProgress((long)(Get(ram, "transferred") / MiB), (long)(Get(ram, "remaining") / MiB), dirtyPagesPerSecond * pageSize / MiB,
            state.TryGetProperty("expected-downtime", out _) ? (int)Get(state, "expected-downtime") : order.DowntimeMs);
    }

    public async Task CommitIncomingAsync(string guest, CancellationToken cancellationToken)
    {
        if (!_vms.TryGetValue(guest, out var vm)) throw ClusterException.NotFound($"no incoming guest '{guest}' on this host");
        if (vm.Role == Role.Running) return; // already committed
        // The source finishing the stop-and-copy is a moment ahead of the destination having loaded everything.
        var deadline = DateTime.UtcNow + Timeout;
        string? status;
        while ((status = (await vm.Qemu.Qmp.ExecuteAsync("query-status", timeout: Timeout, cancellationToken: cancellationToken)).GetProperty("status").GetString()) == "inmigrate")
        {
            if (vm.Qemu.HasExited || DateTime.UtcNow > deadline) throw ClusterException.Conflict($"guest '{guest}' has not been fully received");
            await Task.Delay(20, cancellationToken);
        }
        if (status != "running") await vm.Qemu.Qmp.ExecuteAsync("cont", timeout: Timeout, cancellationToken: cancellationToken);
        _vms[guest] = vm with { Role = Role.Running };
        await SaveSpec(vm.Spec, vm.Qemu.Files);
    }

    public async Task AbortIncomingAsync(string guest, CancellationToken cancellationToken)
    {
        if (_vms.TryGetValue(guest, out var vm) && vm.Role == Role.Incoming && _vms.TryRemove(guest, out _))
        {
            await vm.Qemu.KillAsync();
            await vm.Qemu.DisposeAsync();
        }
    }

    public async Task ReleaseOutgoingAsync(string guest, CancellationToken cancellationToken)
    {
        if (_vms.TryRemove(guest, out var vm))
        {
            await vm.Qemu.StopAsync(TimeSpan.FromSeconds(5));
            await vm.Qemu.DisposeAsync();
        }
    }

    public async Task ResumeOutgoingAsync(string guest, CancellationToken cancellationToken)
    {
        if (!_vms.TryGetValue(guest, out var vm) || vm.Qemu.HasExited) return;
        var status = (await vm.Qemu.Qmp.ExecuteAsync("query-status", timeout: Timeout, cancellationToken: cancellationToken)).GetProperty("status").GetString();
        if (status is "postmigrate" or "paused" or "finish-migrate") await vm.Qemu.Qmp.ExecuteAsync("cont", timeout: Timeout, cancellationToken: cancellationToken);
    }

    private async Task EnsureUsable(CancellationToken cancellationToken)
    {
        await ProbeAsync(cancellationToken);
        if (_problem is not null) throw ClusterException.Unavailable(_problem);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var vm in _vms.Values)
        {
            if (options.StopGuestsOnShutdown) await vm.Qemu.KillAsync();
            await vm.Qemu.DisposeAsync();
        }
        // Mounts this driver made go with the guests it stops (a real hypervisor keeps both).
        if (options.StopGuestsOnShutdown) foreach (var m in _mounted) await HostMemoryTuning.UnmountAsync(m);
    }
}
