using KvmCluster.Grains.Contracts;
using KvmCluster.Hosting.Drivers.Qemu;
using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Model;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvmCluster.Bench;

/// <summary>One case of the model check: the test guest's working set and dirty rate, and the migration's bandwidth cap.</summary>
/// <remarks>With <see cref="PostCopyAfterSeconds"/>, the migration switches to post-copy that long after it started (the
/// cap holds in post-copy too).</remarks>
public sealed record ModelCase(int WorkingSetMiB, int DirtyMiBps, int BandwidthMiBps, double? PostCopyAfterSeconds = null);

public sealed record ModelCheckRow(ModelCase Case, MigrationStats Measured, MigrationPrediction Predicted)
{
    public double TimeError => Predicted.TotalSeconds * 1000 / Math.Max(1, Measured.TotalMs) - 1;
    public double BytesError => Predicted.TransferredMiB / Math.Max(1, Measured.TransferredMiB) - 1;
}

/// <summary>
/// Runs real QEMU migrations of the test guest between two QEMU drivers on this machine and sets what QEMU measured
/// next to what the cost model (src/Policies) predicts for the same guest and link (<see cref="MigrationLink.TcgLoopback"/>).
/// </summary>
public static class MigrationModelCheck
{
    public static readonly IReadOnlyList<ModelCase> Matrix =
    [
        new(128, 0, 0), new(32, 10, 0), new(128, 50, 0), new(128, 50, 128), new(128, 20, 64), new(64, 20, 128),
        new(128, 100, 32, PostCopyAfterSeconds: 3),
    ];

    public static async Task<IReadOnlyList<ModelCheckRow>> RunAsync(string qemu, string kernel, string stateDirectory, IEnumerable<ModelCase> cases)
    {
        var rows = new List<ModelCheckRow>();
        var options = new QemuOptions { Binary = qemu, Accel = "tcg", StopGuestsOnShutdown = true };
        await using var a = new QemuHypervisor("model-a", options, Path.Combine(stateDirectory, "a"), NullLogger.Instance);
        await using var b = new QemuHypervisor("model-b", options, Path.Combine(stateDirectory, "b"), NullLogger.Instance);
        var n = 0;
        foreach (var c in cases)
        {
            var guest = new Guest
            {
                Name = $"model-{n++}",
                VCpus = 1,
                MemoryMiB = 256,
                Boot = new GuestBoot(kernel, $"buf={c.WorkingSetMiB} rate={c.DirtyMiBps} seed=1"),
            };
            await a.LaunchAsync(guest, CancellationToken.None);
            await WaitForHeartbeat(Path.Combine(stateDirectory, "a", "qemu", guest.Name + ".serial"));
            var settings = new Policies.Rules.MigrationSettings { BandwidthMiBps = c.BandwidthMiBps, DowntimeMs = 300, AllowPostCopy = c.PostCopyAfterSeconds is not null };
            var order = new MigrationOrder(guest.Name, "model-a", "model-b", null, settings, Policies.Migration.MigrationPlanning.MinimumDeadlineSeconds, []);
            var endpoint = await b.PrepareIncomingAsync(guest, order, CancellationToken.None);
            var started = System.Diagnostics.Stopwatch.StartNew();
            var switched = false;
            async Task Progress(MigrationProgress p)
            {
                if (c.PostCopyAfterSeconds is not { } after || switched || started.Elapsed.TotalSeconds < after) return;
                switched = true;
                await a.AdjustMigrationAsync(guest.Name, new MigrationAdjustment(null, true), CancellationToken.None);
            }
            await a.MigrateAsync(guest.Name, endpoint, order, Progress, CancellationToken.None);
            await b.CommitIncomingAsync(guest.Name, CancellationToken.None);
            await a.ReleaseOutgoingAsync(guest.Name, CancellationToken.None);
            await b.StopAsync(guest.Name, CancellationToken.None);
            // The guest's kernel and page tables add a little to its buffer; untouched RAM is zero pages, not sent.
            var request = new MigrationRequest(c.WorkingSetMiB + 1, c.WorkingSetMiB, c.DirtyMiBps, c.BandwidthMiBps, 300, CpuBoundDirtying: false);
            var escalation = c.PostCopyAfterSeconds is { } postCopy ? new Escalation { PostCopyAfterSeconds = postCopy } : null;
            rows.Add(new ModelCheckRow(c, a.Measured[guest.Name], MigrationCostModel.Predict(request, MigrationLink.TcgLoopback, escalation)));
        }
        return rows;
    }

    private static async Task WaitForHeartbeat(string serial)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(serial))
            {
                using var s = new FileStream(serial, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                if (new StreamReader(s).ReadToEnd().Contains("heartbeat", StringComparison.Ordinal)) return;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"the test guest did not start dirtying memory ({serial})");
    }

    public static string Table(IEnumerable<ModelCheckRow> rows) =>
        "| working set MiB | dirty MiB/s | max-bandwidth MiB/s | measured total ms | predicted ms | error | measured downtime ms | predicted downtime ms | measured MiB sent | predicted MiB | error |\n" +
        "|---|---|---|---|---|---|---|---|---|---|---|\n" +
        string.Concat(rows.Select(r =>
            $"| {r.Case.WorkingSetMiB} | {r.Case.DirtyMiBps} | {(r.Case.BandwidthMiBps == 0 ? "unlimited" : r.Case.BandwidthMiBps)}{(r.Case.PostCopyAfterSeconds is { } pc ? $", post-copy after {pc:0.#} s" : "")} | {r.Measured.TotalMs:0} | {r.Predicted.TotalSeconds * 1000:0} | {r.TimeError:+0%;-0%;0%} | {r.Measured.DowntimeMs:0} | {r.Predicted.DowntimeMs:0} | {r.Measured.TransferredMiB:0} | {r.Predicted.TransferredMiB:0} | {r.BytesError:+0%;-0%;0%} |\n"));
}
