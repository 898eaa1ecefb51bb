using System.Diagnostics;
using KvmCluster.Grains.Contracts;
using KvmCluster.Hosting;
using KvmCluster.Hosting.Drivers.Qemu;
using KvmCluster.Policies.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvmCluster.Bench;

/// <summary>
/// The same live migration of a 128 MiB test guest, driven directly over QMP by the driver and driven through the
/// cluster (the scheduler's Migrate, as the API calls it, until the migration grain says Completed), back and forth.
/// Besides the two wall times it keeps the time the QEMU driver itself spent on each migration (starting the
/// destination QEMU, the transfer, cont, stopping the source QEMU): wall minus that is the work around the driver —
/// none directly, the cluster's own work (grain calls, state writes, progress reports, polling) through the cluster.
/// The driver's time swings far more between migrations (TCG and process starts on 2 cores) than the cluster's work,
/// so the around-the-driver medians measure that work quietly.
/// </summary>
public static class MigrationOverheadBench
{
    public sealed record Result(
        IReadOnlyList<double> DirectMs, IReadOnlyList<double> ClusterMs, double DirectMedianMs, double ClusterMedianMs, double OverheadPercent,
        IReadOnlyList<double> DirectDriverMs, IReadOnlyList<double> ClusterDriverMs, double DirectAroundMedianMs, double ClusterAroundMedianMs,
        double ClusterWorkMs, double ClusterWorkPercent, double BandwidthMiBps);

    public static async Task<Result> RunAsync(string qemu, string kernel, string stateDirectory, int rounds, double bandwidthMiBps = 0)
    {
        var guest = new Guest { Name = "bench-vm", VCpus = 1, MemoryMiB = 128, Boot = new GuestBoot(kernel, "buf=64 rate=5 seed=1") };
        var options = new QemuOptions { Binary = qemu, Accel = "tcg", StopGuestsOnShutdown = true };
        var direct = new List<double>();
        var cluster = new List<double>();
        // Both set up side by side and measured in turns (direct, cluster, direct, …): the machine's drift over the
        // run (page cache, other load) then weighs on both alike. Each side has its own guest; the other side's is
        // paused during a turn, so only one guest runs, as in a machine with nothing else to do.
        var settings = new SiloSettings { Driver = "qemu", StateDirectory = Path.Combine(stateDirectory, "cluster"), PlanningIntervalSeconds = 0 }; // hosts report every 10 s, as by default
        await using var a = new QemuHypervisor("direct-a", options, Path.Combine(stateDirectory, "direct-a"), NullLogger.Instance);
        await using var b = new QemuHypervisor("direct-b", options, Path.Combine(stateDirectory, "direct-b"), NullLogger.Instance);
        await using var fleet = await EmbeddedFleet.StartAsync(["hv-a", "hv-b"], 2, settings, s => s.Configure<QemuOptions>(o => { o.Binary = qemu; o.Accel = "tcg"; o.StopGuestsOnShutdown = true; }));
        await fleet.ReportAllAsync();
        var policies = fleet.Grains.GetGrain<IPolicyGrain>(Cluster.Key);
        var policy = await policies.Submit($"name: bench\nmigration:\n  bandwidthMiBps: {bandwidthMiBps.ToString(System.Globalization.CultureInfo.InvariantCulture)}\n", "bench");
        await policies.Activate(policy.Name, policy.Version);
        var directDriver = new List<double>();
        var clusterDriver = new List<double>();
        var (ca, cb) = ((QemuHypervisor)fleet.Hypervisor("hv-a"), (QemuHypervisor)fleet.Hypervisor("hv-b"));
        await a.LaunchAsync(guest, CancellationToken.None);
        var at = (await fleet.Scheduler.Place(guest)).Host!;
        await Task.Delay(1500); // booted and dirtying
        var (from, to) = (a, b);
        static double Work(QemuHypervisor x, QemuHypervisor y, string guest) => x.MigrationWorkMs.GetValueOrDefault(guest) + y.MigrationWorkMs.GetValueOrDefault(guest);
        var stop = new GuestControl(GuestAction.Stop);
        var cont = new GuestControl(GuestAction.Cont);
        for (var i = 0; i < rounds; i++)
        {
            await fleet.Grains.GetGrain<IHostGrain>(at).Control(guest.Name, stop);
            await from.ControlAsync(guest.Name, cont, CancellationToken.None);
            await Task.Delay(500); // dirtying again
            var order = new MigrationOrder(guest.Name, "x", "y", null, new Policies.Rules.MigrationSettings { BandwidthMiBps = bandwidthMiBps, DowntimeMs = 300 },
                Policies.Migration.MigrationPlanning.MinimumDeadlineSeconds, []);
            a.MigrationWorkMs.Clear(); b.MigrationWorkMs.Clear();
            var sw = Stopwatch.StartNew();
            var endpoint = await to.PrepareIncomingAsync(guest, order, CancellationToken.None);
            await from.MigrateAsync(guest.Name, endpoint, order, _ => Task.CompletedTask, CancellationToken.None);
            await to.CommitIncomingAsync(guest.Name, CancellationToken.None);
            await from.ReleaseOutgoingAsync(guest.Name, CancellationToken.None);
            direct.Add(sw.Elapsed.TotalMilliseconds);
            directDriver.Add(Work(a, b, guest.Name));
            (from, to) = (to, from);

            await from.ControlAsync(guest.Name, stop, CancellationToken.None);
            await fleet.Grains.GetGrain<IHostGrain>(at).Control(guest.Name, cont);
            await Task.Delay(500);
            var next = at == "hv-a" ? "hv-b" : "hv-a";
            ca.MigrationWorkMs.Clear(); cb.MigrationWorkMs.Clear();
            sw.Restart();
            var started = await fleet.Scheduler.Migrate(guest.Name, next, false);
            var migration = fleet.Grains.GetGrain<IMigrationGrain>(started.Id);
            MigrationView? view;
            while ((view = await migration.Get())!.Status is not (MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled)) await Task.Delay(5);
            cluster.Add(sw.Elapsed.TotalMilliseconds);
            clusterDriver.Add(Work(ca, cb, guest.Name));
            if (view.Status != MigrationStatus.Completed) throw new InvalidOperationException($"migration {started.Id} ended {view.Status}: {view.Reason}");
            // The next migration starts once the scheduler has the guest on its new host.
            while (!(await fleet.Scheduler.Guests()).Any(g => g.Name == guest.Name && g.Host == next && g.Status == GuestStatus.Running)) await Task.Delay(5);
            at = next;
        }
        static double Median(List<double> xs) { var s = xs.Order().ToList(); return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2; }
        var (d, c) = (Median(direct), Median(cluster));
        var dAround = Median([.. direct.Zip(directDriver, (w, q) => w - q)]);
        var cAround = Median([.. cluster.Zip(clusterDriver, (w, q) => w - q)]);
        static IReadOnlyList<double> R(IEnumerable<double> xs) => [.. xs.Select(x => Math.Round(x, 1))];
        return new Result(R(direct), R(cluster), Math.Round(d, 1), Math.Round(c, 1), Math.Round((c / d - 1) * 100, 1),
            R(directDriver), R(clusterDriver), Math.Round(dAround, 1), Math.Round(cAround, 1),
            Math.Round(cAround - dAround, 1), Math.Round((cAround - dAround) / d * 100, 1), bandwidthMiBps);
    }
}
