using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Ports;
using KvmCluster.Hosting.Facts;
using KvmCluster.Policies.Model;
using Microsoft.Extensions.Logging;
using Host = KvmCluster.Policies.Model.Host;

namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>A completed migration as QEMU measured it: total time and downtime (ms), RAM sent (MiB).</summary>
public sealed record MigrationStats(double TotalMs, double DowntimeMs, double TransferredMiB);

/// <summary>Live migration, QEMU to QEMU: the destination's incoming copy, the source's transfer, the switch-over or the way back.</summary>
public sealed partial class QemuHypervisor
{
    public async Task<string> PrepareIncomingAsync(Guest guest, MigrationOrder order, CancellationToken cancellationToken)
    {
        var since = System.Diagnostics.Stopwatch.GetTimestamp();
        try { return await PrepareAsync(guest, order, cancellationToken); }
        finally { Spent(guest.Name, since); }
    }

    private async Task<string> PrepareAsync(Guest guest, MigrationOrder order, CancellationToken cancellationToken)
    {
        await EnsureUsable(cancellationToken);
        if (_vms.ContainsKey(guest.Name)) throw ClusterException.Conflict($"guest '{guest.Name}' already exists on this host");
        var copiesDisks = guest.CopiesDisksOnMigration;
        if (copiesDisks) await _disks.CreateAsync(guest, fresh: true, cancellationToken);
        QemuProcess qemu;
        try { qemu = await Start(guest, incoming: true, cancellationToken); }
        catch { if (copiesDisks) _disks.Delete(guest); throw; }
        if (!_vms.TryAdd(guest.Name, new Vm(guest, qemu, Role.Incoming))) { await qemu.KillAsync(); throw ClusterException.Conflict($"guest '{guest.Name}' is already arriving"); }
        // Kept beside it so that a restarted silo finds the incoming copy and settles it with its migration.
        await SaveSpec(guest, qemu.Files);
        await SaveMigration(qemu.Files, order, isSource: false);
        // Post-copy has to be enabled on both sides before the migration starts (the order never asks it of a guest
        // whose disks are copied: the core took it out). A destination receiving disks activates them only when told
        // (its NBD export holds them until the copy is done).
        if (order.PostCopy) await SetCapabilities(qemu.Qmp, ("postcopy-ram", true));
        if (copiesDisks) await SetCapabilities(qemu.Qmp, ("late-block-activate", true));
        if (_tls is not null)
        {
            await _tls.AddAsync(qemu.Qmp, server: true, Timeout, cancellationToken);
            await qemu.Qmp.ExecuteAsync("migrate-set-parameters", new Dictionary<string, object> { ["tls-creds"] = QemuMigrationTls.ServerId }, Timeout, cancellationToken);
        }
        await qemu.Qmp.ExecuteAsync("migrate-incoming", new { uri = $"tcp:{options.MigrationAddress}:0" }, Timeout, cancellationToken);
        var state = await qemu.Qmp.ExecuteAsync("query-migrate", timeout: Timeout, cancellationToken: cancellationToken);
        // QEMU chose the port; it reports it as a string.
        var port = int.Parse(state.GetProperty("socket-address")[0].GetProperty("port").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var endpoint = new QemuMigrationEndpoint(options.MigrationAddress, port);
        return (copiesDisks ? await ExportDisksAsync(qemu.Qmp, guest, endpoint, cancellationToken) : endpoint).ToString();
    }

    /// <summary>The arriving guest's new images, writable over NBD for the source's disk copy.</summary>
    private async Task<QemuMigrationEndpoint> ExportDisksAsync(QmpClient qmp, Guest guest, QemuMigrationEndpoint endpoint, CancellationToken cancellationToken)
    {
        // nbd-server-start cannot say which port it chose: take a free one (again if another process took it first).
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            try
            {
                var server = new Dictionary<string, object>
                {
                    ["addr"] = new { type = "inet", data = new { host = options.MigrationAddress, port = port.ToString(System.Globalization.CultureInfo.InvariantCulture) } },
                };
                if (_tls is not null) server["tls-creds"] = QemuMigrationTls.ServerId;
                await qmp.ExecuteAsync("nbd-server-start", server, Timeout, cancellationToken);
                endpoint = endpoint with { NbdHost = options.MigrationAddress, NbdPort = port };
                break;
            }
            catch (QmpException) when (attempt < 3) { }
        }
        for (var i = 0; i < guest.Disks.Length; i++)
            if (guest.Disks[i].IsCopiedOnMigration)
                await qmp.ExecuteAsync("block-export-add", new Dictionary<string, object>
                {
                    ["type"] = "nbd",
                    ["id"] = $"disk{i}",
                    ["name"] = $"disk{i}",
                    ["node-name"] = $"nd-disk{i}",
                    ["writable"] = true,
                }, Timeout, cancellationToken);
        return endpoint;
    }

    private int FreePort()
    {
        // MigrationAddress may be a host name: any free port on this host then.
        var address = System.Net.IPAddress.TryParse(options.MigrationAddress.Trim('[', ']'), out var ip) ? ip : System.Net.IPAddress.Any;
        var listener = new System.Net.Sockets.TcpListener(address, 0);
        listener.Start();
        try { return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port; }
        finally { listener.Stop(); }
    }

    public async Task MigrateAsync(string guest, string endpoint, MigrationOrder order, Func<MigrationProgress, Task> progress, CancellationToken cancellationToken)
    {
        var since = System.Diagnostics.Stopwatch.GetTimestamp();
        // The progress callbacks are the caller's work (reports to the migration grain), not the driver's.
        var reporting = 0.0;
        async Task Report(MigrationProgress p)
        {
            var t = System.Diagnostics.Stopwatch.GetTimestamp();
            await progress(p);
            reporting += System.Diagnostics.Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        }
        try { await SendAsync(guest, endpoint, order, Report, cancellationToken); }
        finally { Spent(guest, since); MigrationWorkMs[guest] -= reporting; }
    }

    private async Task SendAsync(string guest, string endpoint, MigrationOrder order, Func<MigrationProgress, Task> progress, CancellationToken cancellationToken)
    {
        if (!_vms.TryGetValue(guest, out var vm) || vm.Role != Role.Running) throw ClusterException.NotFound($"no running guest '{guest}' on this host");
        var target = QemuMigrationEndpoint.Parse(endpoint) ?? throw ClusterException.Invalid($"bad migration endpoint '{endpoint}'", "endpoint");
        var qmp = vm.Qemu.Qmp;
        var mirror = vm.Spec.CopiesDisksOnMigration ? new QemuDiskMirror(qmp, vm.Spec, Timeout, _tls) : null;
        await SaveMigration(vm.Qemu.Files, order, isSource: true);
        if (order.PostCopy && mirror is not null) throw ClusterException.Invalid($"the order asks post-copy for '{guest}', whose disks are copied: its disks would not be in step", "postCopy");
        // Set every time: capabilities outlive a migration in the source QEMU. Everything comes from the order.
        await SetCapabilities(qmp, ("auto-converge", order.AutoConverge), ("postcopy-ram", order.PostCopy), ("pause-before-switchover", mirror is not null));
        // 0 = no cap: the link's speed, as the cost model assumes (QEMU's own default would be 128 MiB/s). The cap
        // holds in post-copy too: QEMU's post-copy phase has its own limit (0 there means unlimited).
        var cap = order.BandwidthMiBps > 0 ? (long)(order.BandwidthMiBps * 1024 * 1024) : 0L;
        var parameters = new Dictionary<string, object>
        {
            ["max-bandwidth"] = cap > 0 ? cap : 1L << 40,
            ["max-postcopy-bandwidth"] = cap,
            ["downtime-limit"] = (long)order.DowntimeMs,
            // The destination's certificate must name the address the stream goes to; "" = plain TCP.
            ["tls-creds"] = _tls is null ? "" : QemuMigrationTls.ClientId,
            ["tls-hostname"] = _tls is null ? "" : target.Host.Trim('[', ']'),
        };
        if (_tls is not null) await _tls.AddAsync(qmp, server: false, Timeout, cancellationToken);
        await qmp.ExecuteAsync("migrate-set-parameters", parameters, Timeout, cancellationToken);
        try
        {
            if (mirror is not null)
            {
                await mirror.StartAsync(target, order.BandwidthMiBps, cancellationToken);
                await _faults.At(Grains.Ports.FaultPoints.DisksMirroring, guest);
                await mirror.WaitReadyAsync(progress, order.DowntimeMs, options.ProgressMilliseconds, cancellationToken);
            }
            await qmp.ExecuteAsync("migrate", new { uri = target.MigrationUri }, Timeout, cancellationToken);
            try { await TransferAsync(vm, mirror, order, progress, cancellationToken); }
            finally { vm.DirtyMiBps = null; }
        }
        catch (QmpException e) when (e.ErrorClass == "Disconnected")
        {
            await Task.Delay(100, CancellationToken.None);
            throw new InvalidOperationException(vm.Qemu.HasExited
                ? $"the source QEMU {vm.Qemu.Exit} during the migration: {vm.Qemu.Errors}"
                : $"lost the QMP connection to the source QEMU: {e.Description}");
        }
        catch (Exception e)
        {
            // Cancel or failure: QEMU stops sending and keeps the source; its disks were only ever read. Also when
            // this side failed (a disk copy that cannot finish, a dead destination at the paused switch-over): a
            // transfer left in QEMU with nobody following it would stay "sending" for ever.
            try { await qmp.ExecuteAsync("migrate_cancel", timeout: Timeout); }
            catch (Exception q) when (q is QmpException or TimeoutException) { log.LogWarning("migrate_cancel of {Guest} after {Error}: {Cancel}", guest, e.Message, q.Message); }
            if (mirror is not null) await mirror.AbortAsync();
            throw;
        }
    }

    /// <summary>Follows the memory transfer to its end, finishing the disk copies at the paused switch-over.</summary>
    private async Task TransferAsync(Vm vm, QemuDiskMirror? mirror, MigrationOrder order, Func<MigrationProgress, Task> progress, CancellationToken cancellationToken)
    {
        var qmp = vm.Qemu.Qmp;
        var running = false;
        while (true)
        {
            await Task.Delay(options.ProgressMilliseconds, cancellationToken);
            var s = await qmp.ExecuteAsync("query-migrate", timeout: Timeout, cancellationToken: cancellationToken);
            var status = s.TryGetProperty("status", out var st) ? st.GetString() : null;
            if (s.TryGetProperty("ram", out var ram))
            {
                var p = Progress(ram, s, order);
                vm.DirtyMiBps = p.DirtyMiBps;
                await progress(p);
            }
            switch (status)
            {
                case "active" when !running && s.TryGetProperty("ram", out var sent) && Get(sent, "transferred") > 0:
                    running = true;
                    await _faults.At(Grains.Ports.FaultPoints.TransferRunning, vm.Spec.Name);
                    break;
                case "pre-switchover" when mirror is not null: // the guest is stopped: the disks' last writes go now
                    await _faults.At(Grains.Ports.FaultPoints.PausedAtSwitchover, vm.Spec.Name);
                    await mirror.CompleteAsync(cancellationToken);
                    await qmp.ExecuteAsync("migrate-continue", new { state = "pre-switchover" }, Timeout, cancellationToken);
                    break;
                case "completed": // the source is paused (postmigrate); the destination runs
                    Measured[vm.Spec.Name] = new MigrationStats(Get(s, "total-time"), Get(s, "downtime"), s.TryGetProperty("ram", out var r) ? Get(r, "transferred") / (1024 * 1024) : 0);
                    return;
                case "failed":
                    throw new InvalidOperationException("QEMU: migration failed" + (s.TryGetProperty("error-desc", out var why) ? ": " + why.GetString() : ""));
                case "cancelled": throw new OperationCanceledException("QEMU: migration cancelled");
            }
        }
    }

    private static double Get(JsonElement e, string property) => e.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;

    /// <summary>What QEMU measured for each guest's last completed outgoing migration.</summary>
    public ConcurrentDictionary<string, MigrationStats> Measured { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Milliseconds this driver spent on each guest's migrations so far (preparing, sending, committing, releasing):
    /// the benchmark subtracts it from a migration's wall time to see what the cluster around it costs.
    /// </summary>
    public ConcurrentDictionary<string, double> MigrationWorkMs { get; } = new(StringComparer.Ordinal);

    private void Spent(string guest, long since)
    {
        var ms = System.Diagnostics.Stopwatch.GetElapsedTime(since).TotalMilliseconds;
        MigrationWorkMs.AddOrUpdate(guest, ms, (_, total) => total + ms);
    }

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
        var dirtyPagesPerSecond = Get(ram, "dirty-pages-rate");
        var pageSize = Get(ram, "page-size") is > 0 and var ps ? ps : 4096;
        return new MigrationProgress((long)(Get(ram, "transferred") / MiB), (long)(Get(ram, "remaining") / MiB), dirtyPagesPerSecond * pageSize / MiB,
            state.TryGetProperty("expected-downtime", out _) ? (int)Get(state, "expected-downtime") : order.DowntimeMs);
    }

    public async Task CommitIncomingAsync(string guest, CancellationToken cancellationToken)
    {
        var since = System.Diagnostics.Stopwatch.GetTimestamp();
        try { await CommitAsync(guest, cancellationToken); }
        finally { Spent(guest, since); }
    }

    private async Task CommitAsync(string guest, CancellationToken cancellationToken)
    {
        if (!_vms.TryGetValue(guest, out var vm)) throw ClusterException.NotFound($"no incoming guest '{guest}' on this host");
        if (vm.Role == Role.Running) return; // already committed
        // The disk copies ended at the switch-over; the export has to go before the guest's devices take the images.
        if (vm.Spec.CopiesDisksOnMigration)
            try { await vm.Qemu.Qmp.ExecuteAsync("nbd-server-stop", timeout: Timeout, cancellationToken: cancellationToken); }
            catch (QmpException e) when (e.ErrorClass == "GenericError") { } // already stopped (a repeated commit)
        // The source finishing the stop-and-copy is a moment ahead of the destination having loaded everything.
        var deadline = DateTime.UtcNow + Timeout;
        string? status;
        while ((status = (await vm.Qemu.Qmp.ExecuteAsync("query-status", timeout: Timeout, cancellationToken: cancellationToken)).GetProperty("status").GetString()) == "inmigrate")
        {
            if (vm.Qemu.HasExited || DateTime.UtcNow > deadline) throw ClusterException.Conflict($"guest '{guest}' has not been fully received");
            await Task.Delay(20, cancellationToken);
        }
        // A guest an operator paused arrives paused, as libvirt keeps it (the spec says so: its source reported it).
        if (status != "running" && !vm.Spec.Paused) await vm.Qemu.Qmp.ExecuteAsync("cont", timeout: Timeout, cancellationToken: cancellationToken);
        _vms[guest] = vm with { Role = Role.Running };
        await SaveSpec(vm.Spec, vm.Qemu.Files);
        ForgetMigration(vm.Qemu.Files); // an ordinary running guest of this host from now on
    }

    public async Task AbortIncomingAsync(string guest, CancellationToken cancellationToken)
    {
        if (_vms.TryGetValue(guest, out var vm) && vm.Role == Role.Incoming && _vms.TryRemove(guest, out _))
        {
            await vm.Qemu.KillAsync();
            await vm.Qemu.DisposeAsync();
            _disks.Delete(vm.Spec);
            await _networks.DeleteAsync(name, vm.Spec);
        }
    }

    public async Task ReleaseOutgoingAsync(string guest, CancellationToken cancellationToken)
    {
        var since = System.Diagnostics.Stopwatch.GetTimestamp();
        if (_vms.TryRemove(guest, out var vm))
        {
            await vm.Qemu.StopAsync(TimeSpan.FromSeconds(5));
            await vm.Qemu.DisposeAsync();
            _disks.Delete(vm.Spec); // the destination has them now
            await _networks.DeleteAsync(name, vm.Spec);
        }
        Spent(guest, since);
    }

    public async Task ResumeOutgoingAsync(string guest, CancellationToken cancellationToken)
    {
        if (!_vms.TryGetValue(guest, out var vm) || vm.Qemu.HasExited) return;
        // A transfer a previous silo started may still run in QEMU (or wait at the switch-over): stop it first, and
        // the disk copies with it — QEMU refuses cont while a migration is not finalized.
        await CancelTransferAsync(guest, cancellationToken);
        var status = (await vm.Qemu.Qmp.ExecuteAsync("query-status", timeout: Timeout, cancellationToken: cancellationToken)).GetProperty("status").GetString();
        if (status is "postmigrate" or "paused" or "finish-migrate") await vm.Qemu.Qmp.ExecuteAsync("cont", timeout: Timeout, cancellationToken: cancellationToken);
        ForgetMigration(vm.Qemu.Files);
    }

    public async Task CancelTransferAsync(string guest, CancellationToken cancellationToken)
    {
        if (!_vms.TryGetValue(guest, out var vm) || vm.Qemu.HasExited) return;
        var qmp = vm.Qemu.Qmp;
        var migrating = (await qmp.ExecuteAsync("query-migrate", timeout: Timeout, cancellationToken: cancellationToken)).TryGetProperty("status", out var ms) ? ms.GetString() : null;
        if (Transferring(migrating))
        {
            log.LogInformation("stopping the outgoing transfer of {Guest} ({Status} in QEMU)", guest, migrating);
            if (migrating != "cancelling") await qmp.ExecuteAsync("migrate_cancel", timeout: Timeout, cancellationToken: cancellationToken);
            var deadline = DateTime.UtcNow + Timeout;
            while (Transferring((await qmp.ExecuteAsync("query-migrate", timeout: Timeout, cancellationToken: cancellationToken)).GetProperty("status").GetString()))
            {
                if (DateTime.UtcNow > deadline) throw ClusterException.Conflict($"the transfer of '{guest}' does not stop");
                await Task.Delay(20, cancellationToken);
            }
        }
        if (vm.Spec.CopiesDisksOnMigration && await QemuDiskMirror.AttachAsync(qmp, vm.Spec, Timeout) is { HasJobs: true } leftover) await leftover.AbortAsync();
    }

    /// <summary>QEMU's pre-copy migration states in which a transfer still runs (query-migrate's "status").</summary>
    private static bool Transferring(string? status) =>
        status is "setup" or "active" or "pre-switchover" or "device" or "wait-unplug" or "cancelling";
}
