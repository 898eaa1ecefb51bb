using System.Text.Json;
using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Model;

namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>
/// The source's half of copying a guest's local and overlay disks during a live migration: one drive-mirror job per
/// disk to the destination's NBD export — what libvirt does for non-shared storage (QEMU 7.2's own block migration,
/// `migrate -b/-i`, is deprecated and gone from QEMU 9.1). `sync: top` copies what the top image holds: an overlay's
/// own clusters (the destination has the backing image), a local disk's whole content (it has no backing image).
/// `write-blocking` keeps the copy in step with the guest's writes once it caught up, and the migration pauses before
/// its switch-over (`pause-before-switchover`) so the jobs finish with the guest stopped — nothing written after.
/// </summary>
/// <param name="tls">With TLS on, the NBD connection is TLS too (client credentials, the destination's name checked).</param>
public sealed class QemuDiskMirror(QmpClient qmp, Guest guest, TimeSpan timeout, QemuMigrationTls? tls = null)
{
    private readonly List<string> _jobs = [];

    /// <summary>
    /// The copy jobs a previous silo started in this QEMU (they run on without it): a restarted silo finishes them at
    /// the switch-over or stops them.
    /// </summary>
    public static async Task<QemuDiskMirror> AttachAsync(QmpClient qmp, Guest guest, TimeSpan timeout)
    {
        var mirror = new QemuDiskMirror(qmp, guest, timeout);
        var list = await qmp.ExecuteAsync("query-block-jobs", timeout: timeout);
        mirror._jobs.AddRange(list.EnumerateArray().Select(j => j.GetProperty("device").GetString()!).Where(id => id.StartsWith("mirror-disk", StringComparison.Ordinal)));
        return mirror;
    }

    public bool HasJobs => _jobs.Count > 0;

    public async Task StartAsync(QemuMigrationEndpoint endpoint, double bandwidthMiBps, CancellationToken cancellationToken)
    {
        if (!endpoint.HasDisks) throw ClusterException.Conflict($"the destination of '{guest.Name}' does not export disks to copy its local disks to");
        for (var i = 0; i < guest.Disks.Length; i++)
        {
            if (!guest.Disks[i].IsCopiedOnMigration) continue;
            var job = $"mirror-disk{i}";
            var arguments = new Dictionary<string, object>
            {
                ["job-id"] = job,
                ["device"] = $"disk{i}",
                ["sync"] = "top",
                ["copy-mode"] = "write-blocking",
                // Kept after it ends, so an error can be read from it.
                ["auto-dismiss"] = false,
            };
            if (bandwidthMiBps > 0) arguments["speed"] = (long)(bandwidthMiBps * 1024 * 1024);
            if (tls is null)
            {
                arguments["target"] = endpoint.Nbd($"disk{i}");
                arguments["mode"] = "existing";
                arguments["format"] = "raw";
                await qmp.ExecuteAsync("drive-mirror", arguments, timeout, cancellationToken);
            }
            else
            {
                // An NBD client over TLS is a block node of its own (the nbd: filename has no TLS): add it, mirror to it.
                await tls.AddAsync(qmp, server: false, timeout, cancellationToken);
                await qmp.ExecuteAsync("blockdev-add", tls.NbdNode(NbdNode(i), endpoint.NbdHost!, endpoint.NbdPort, $"disk{i}"), timeout, cancellationToken);
                arguments["target"] = NbdNode(i);
                await qmp.ExecuteAsync("blockdev-mirror", arguments, timeout, cancellationToken);
            }
            _jobs.Add(job);
        }
    }

    /// <summary>Waits until every disk has been copied once (the jobs are then "ready" and stay in step).</summary>
    public async Task WaitReadyAsync(Func<MigrationProgress, Task> progress, int downtimeMs, int intervalMs, CancellationToken cancellationToken)
    {
        while (true)
        {
            var jobs = await Jobs(cancellationToken);
            Failed(jobs);
            long done = 0, length = 0;
            foreach (var j in jobs.Values) { done += j.GetProperty("offset").GetInt64(); length += j.GetProperty("len").GetInt64(); }
            const long MiB = 1024 * 1024;
            // What is still to send counts the guest's memory too: the disks go first, then the RAM.
            await progress(new MigrationProgress(done / MiB, (length - done) / MiB + guest.MemoryMiB, 0, downtimeMs) { CopyingDisks = true });
            if (jobs.Values.All(j => j.GetProperty("ready").GetBoolean())) return;
            await Task.Delay(intervalMs, cancellationToken);
        }
    }

    /// <summary>At the paused switch-over: finishes every job (the last writes reach the destination) and removes it.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        // Cancelling a ready mirror completes it without switching the guest to the copy: exactly a finished copy.
        // (A job already concluded was finished by a previous silo before it died.)
        var before = await Jobs(cancellationToken);
        foreach (var job in _jobs.Where(j => before.TryGetValue(j, out var state) && state.GetProperty("status").GetString() != "concluded"))
            await qmp.ExecuteAsync("block-job-cancel", new { device = job }, timeout, cancellationToken);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var jobs = await Jobs(cancellationToken);
            Failed(jobs);
            if (jobs.Values.All(j => j.GetProperty("status").GetString() == "concluded")) break;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the disk copies did not finish at the switch-over");
            await Task.Delay(20, cancellationToken);
        }
        await DismissAsync();
    }

    /// <summary>Stops every job at once (failed or cancelled migration): the source's disks are untouched.</summary>
    public async Task AbortAsync()
    {
        foreach (var job in _jobs)
        {
            try { await qmp.ExecuteAsync("block-job-cancel", new { device = job, force = true }, timeout); }
            catch (QmpException) { } // already ended
        }
        var deadline = DateTime.UtcNow + timeout;
        try
        {
            while ((await Jobs(CancellationToken.None)).Values.Any(j => j.GetProperty("status").GetString() != "concluded") && DateTime.UtcNow < deadline)
                await Task.Delay(20);
        }
        catch (QmpException) { }
        await DismissAsync();
    }

    private async Task DismissAsync()
    {
        foreach (var job in _jobs)
        {
            try { await qmp.ExecuteAsync("job-dismiss", new { id = job }, timeout); }
            catch (QmpException) { }
        }
        _jobs.Clear();
        // The TLS path's NBD client nodes (none without TLS: drive-mirror's target goes with its job).
        for (var i = 0; i < guest.Disks.Length; i++)
        {
            if (tls is null || !guest.Disks[i].IsCopiedOnMigration) continue;
            try { await qmp.ExecuteAsync("blockdev-del", new Dictionary<string, object> { ["node-name"] = NbdNode(i) }, timeout); }
            catch (QmpException) { } // never added, or gone
        }
    }

    private static string NbdNode(int disk) => $"nbd-out-disk{disk}";

    private async Task<Dictionary<string, JsonElement>> Jobs(CancellationToken cancellationToken)
    {
        var list = await qmp.ExecuteAsync("query-block-jobs", timeout: timeout, cancellationToken: cancellationToken);
        return list.EnumerateArray().Where(j => _jobs.Contains(j.GetProperty("device").GetString()!))
            .ToDictionary(j => j.GetProperty("device").GetString()!, j => j.Clone());
    }

    private void Failed(Dictionary<string, JsonElement> jobs)
    {
        foreach (var job in _jobs)
        {
            if (!jobs.TryGetValue(job, out var j)) throw new InvalidOperationException($"QEMU: disk copy {job} vanished");
            if (j.TryGetProperty("error", out var error))
                throw new InvalidOperationException($"QEMU: copying {job["mirror-".Length..]} to the destination failed: {error.GetString()}");
        }
    }
}
