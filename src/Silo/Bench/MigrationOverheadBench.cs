using System.Diagnostics;
using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Model;
using KvmCluster.Silo.Drivers.Qemu;
using KvmCluster.Silo.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvmCluster.Silo.Bench;

/// <summary>
/// The same live migration of a 128 MiB test guest, driven directly over QMP by the driver and driven through the
/// cluster (the scheduler's Migrate, as the API calls it, until the migration grain says Completed), back and forth.
/// </summary>
public static class MigrationOverheadBench
{
    public sealed record Result(IReadOnlyList<double> DirectMs, IReadOnlyList<double> ClusterMs, double DirectMedianMs, double ClusterMedianMs, double OverheadPercent);

    public static async Task<Result> RunAsync(string qemu, string kernel, string stateDirectory, int rounds)
    {
        var guest = new Guest { Name = "bench-vm", VCpus = 1, MemoryMiB = 128, Boot = new GuestBoot(kernel, "buf=64 rate=5 seed=1") };
        var options = new QemuOptions { Binary = qemu, Accel = "tcg", StopGuestsOnShutdown = true };
        var direct = new List<double>();
        await using (var a = new QemuHypervisor("direct-a", options, Path.Combine(stateDirectory, "direct-a"), NullLogger.Instance))
        await using (var b = new QemuHypervisor("direct-b", options, Path.Combine(stateDirectory, "direct-b"), NullLogger.Instance))
        {
            await a.LaunchAsync(guest, CancellationToken.None);
            await Task.Delay(1500); // booted and dirtying
            var (from, to) = (a, b);
            for (var i = 0; i < rounds; i++)
            {
                var order = new MigrationOrder(guest.Name, "x", "y", null, 0, 300, []);
                var sw = Stopwatch.StartNew();
                var endpoint = await to.PrepareIncomingAsync(guest, order, CancellationToken.None);
                await from.MigrateAsync(guest.Name, endpoint, order, _ => Task.CompletedTask, CancellationToken.None);
                await to.CommitIncomingAsync(guest.Name, CancellationToken.None);
                await from.ReleaseOutgoingAsync(guest.Name, CancellationToken.None);
                direct.Add(sw.Elapsed.TotalMilliseconds);
                (from, to) = (to, from);
            }
        }

        var cluster = new List<double>();
        var settings = new SiloSettings { Driver = "qemu", StateDirectory = Path.Combine(stateDirectory, "cluster"), PlanningIntervalSeconds = 0 }; // hosts report every 10 s, as by default
        await using (var fleet = await EmbeddedFleet.StartAsync(["hv-a", "hv-b"], 2, settings, s => s.Configure<QemuOptions>(o => { o.Binary = qemu; o.Accel = "tcg"; o.StopGuestsOnShutdown = true; })))
        {
            await fleet.ReportAllAsync();
            var at = (await fleet.Scheduler.Place(guest)).Host!;
            await Task.Delay(1500);
            for (var i = 0; i < rounds; i++)
            {
                var to = at == "hv-a" ? "hv-b" : "hv-a";
                var sw = Stopwatch.StartNew();
                var started = await fleet.Scheduler.Migrate(guest.Name, to);
                var migration = fleet.Grains.GetGrain<IMigrationGrain>(started.Id);
                MigrationView? view;
                while ((view = await migration.Get())!.Status is not (MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled)) await Task.Delay(5);
                cluster.Add(sw.Elapsed.TotalMilliseconds);
                if (view.Status != MigrationStatus.Completed) throw new InvalidOperationException($"migration {started.Id} ended {view.Status}: {view.Reason}");
                // The next migration starts once the scheduler has the guest on its new host.
                while (!(await fleet.Scheduler.Guests()).Any(g => g.Name == guest.Name && g.Host == to && g.Status == GuestStatus.Running)) await Task.Delay(5);
                at = to;
            }
        }
        static double Median(List<double> xs) { var s = xs.Order().ToList(); return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2; }
        var (d, c) = (Median(direct), Median(cluster));
        return new Result([.. direct.Select(x => Math.Round(x, 1))], [.. cluster.Select(x => Math.Round(x, 1))], Math.Round(d, 1), Math.Round(c, 1), Math.Round((c / d - 1) * 100, 1));
    }
}
