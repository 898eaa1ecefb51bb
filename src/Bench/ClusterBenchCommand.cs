using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using KvmCluster.Grains.Contracts;
using KvmCluster.Hosting;
using KvmCluster.Hosting.Drivers;
using KvmCluster.Policies.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KvmCluster.Bench;

/// <summary>
/// `kvmcluster bench place|plan`: the cluster's own speed, measured on an embedded silo that simulates a fleet of
/// hypervisors (real host grains, one per hypervisor, and the real scheduler). Placements go through the grain
/// client the API handlers use (the silo's IGrainFactory); a planning round is the scheduler's Preview over every
/// host grain's report. Run it in Release.
/// </summary>
public static class ClusterBenchCommand
{
    public static Command Create()
    {
        var cmd = new Command("bench", "Measure placements per second and planning-round time on an embedded simulated fleet");
        var hosts = new Option<int>("--hosts") { Description = "Simulated hypervisors (host grains)", DefaultValueFactory = _ => 1000 };
        var guests = new Option<int>("--guests") { Description = "Guests to place", DefaultValueFactory = _ => 20_000 };
        var parallel = new Option<int>("--parallel") { Description = "Placement calls in flight", DefaultValueFactory = _ => 64 };
        var rounds = new Option<int>("--rounds") { Description = "Planning rounds to time", DefaultValueFactory = _ => 10 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1 };
        var json = new Option<string?>("--json") { Description = "Also write the results to this file" };
        foreach (var o in new Option[] { hosts, guests, parallel, rounds, seed, json }) cmd.Options.Add(o);
        cmd.Subcommands.Add(Migration());
        cmd.Subcommands.Add(Model());
        cmd.SetAction(async (parse, ct) =>
        {
            var (h, g, p, r) = (parse.GetValue(hosts), parse.GetValue(guests), parse.GetValue(parallel), parse.GetValue(rounds));
            if (h < 1 || g < 1 || p < 1 || r < 1) throw new UsageException("--hosts, --guests, --parallel and --rounds must be ≥ 1");
            var result = await RunAsync(h, g, p, r, parse.GetValue(seed), ct);
            var text = JsonSerializer.Serialize(result, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true });
            Console.WriteLine(text);
            if (parse.GetValue(json) is { } file) await File.WriteAllTextAsync(file, text + "\n", ct);
            return 0;
        });
        return cmd;
    }

    private static readonly Option<string> Kernel = new("--kernel") { Description = "The test guest (tests/guest/build.sh builds it)", Required = true };
    private static readonly Option<string> Qemu = new("--qemu") { Description = "QEMU binary", DefaultValueFactory = _ => "qemu-system-x86_64" };

    /// <summary>`bench migration`: a 128 MiB guest migrated directly over QMP and through the cluster.</summary>
    private static Command Migration()
    {
        var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => 7 };
        var bandwidth = new Option<double>("--bandwidth") { Description = "max-bandwidth in MiB/s for both paths (0: no cap)", DefaultValueFactory = _ => 0 };
        var cmd = new Command("migration", "Live migration through the cluster versus directly over QMP (real QEMU)") { Kernel, Qemu, rounds, bandwidth };
        cmd.SetAction(async (parse, ct) =>
        {
            var kernel = Path.GetFullPath(parse.GetValue(Kernel)!);
            if (!File.Exists(kernel)) throw new UsageException($"--kernel: {kernel} does not exist (build it with tests/guest/build.sh)");
            var dir = Directory.CreateTempSubdirectory("kvb-");
            try { Console.WriteLine(JsonSerializer.Serialize(await MigrationOverheadBench.RunAsync(parse.GetValue(Qemu)!, kernel, dir.FullName, parse.GetValue(rounds), parse.GetValue(bandwidth)), new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true })); }
            finally { dir.Delete(recursive: true); }
            return 0;
        });
        return cmd;
    }

    /// <summary>`bench model`: the cost model against measured QEMU migrations (a Markdown table).</summary>
    private static Command Model()
    {
        var cmd = new Command("model", "Measured QEMU migrations next to the cost model's predictions (real QEMU)") { Kernel, Qemu };
        cmd.SetAction(async (parse, ct) =>
        {
            var kernel = Path.GetFullPath(parse.GetValue(Kernel)!);
            if (!File.Exists(kernel)) throw new UsageException($"--kernel: {kernel} does not exist (build it with tests/guest/build.sh)");
            var dir = Directory.CreateTempSubdirectory("kvm-");
            try { Console.Write(MigrationModelCheck.Table(await MigrationModelCheck.RunAsync(parse.GetValue(Qemu)!, kernel, dir.FullName, MigrationModelCheck.Matrix))); }
            finally { dir.Delete(recursive: true); }
            return 0;
        });
        return cmd;
    }

    public sealed record Result(int Hosts, int Guests, int Placed, int Rejected, int Parallel, double PlacementsPerSecond, double PlacementSeconds,
        double ReportAllMillis, IReadOnlyList<double> PlanMillis, double PlanMillisMedian, int Moves, string Path, bool ServerGc);

    public static async Task<Result> RunAsync(int hostCount, int guestCount, int parallel, int rounds, int seed, CancellationToken ct)
    {
        var names = Enumerable.Range(1, hostCount).Select(i => $"bench-{i:D4}").ToList();
        // Host timers off (reports only when asked), planning only on request: nothing else competes for the silo.
        var settings = new SiloSettings { PlanningIntervalSeconds = 0, HostReportSeconds = 86_400 };
        await using var fleet = await EmbeddedFleet.StartAsync(names, 1, settings, services =>
        {
            services.AddSingleton<ConfiguredWorld>();
            services.AddSingleton<ISimulatedWorld>(sp => new BenchWorld(sp.GetRequiredService<ConfiguredWorld>(), seed));
            services.PostConfigure<Grains.Hosts.HostGrainOptions>(o => o.SampleInterval = TimeSpan.Zero); // sampled when the bench says
        }, ct);
        await fleet.ReportAllAsync();
        await ActivateBalanced(fleet);

        // Warm-up (JIT tiers, first activations), not counted.
        await Place(fleet, Enumerable.Range(0, Math.Min(2000, guestCount)).Select(i => Guest($"warm-{i}", i, seed)).ToList(), parallel);

        var specs = Enumerable.Range(0, guestCount).Select(i => Guest($"g-{i:D6}", i, seed)).ToList();
        var sw = Stopwatch.StartNew();
        var (placed, rejected) = await Place(fleet, specs, parallel);
        sw.Stop();

        var report = Stopwatch.StartNew();
        await fleet.ReportAllAsync();
        report.Stop();
        // Twelve samples of every guest's usage (what an hour of 5-minute samples gives the balancer), as host grains keep them.
        for (var i = 0; i < 12; i++) await fleet.SampleAllAsync();

        var millis = new List<double>();
        var moves = 0;
        await fleet.Scheduler.Preview(); // warm-up round
        for (var i = 0; i < rounds; i++)
        {
            var round = Stopwatch.StartNew();
            var plan = await fleet.Scheduler.Preview();
            millis.Add(round.Elapsed.TotalMilliseconds);
            moves += plan.Moves.Count;
        }
        var sorted = millis.Order().ToList();
        return new Result(hostCount, guestCount, placed, rejected, parallel, Math.Round(placed / sw.Elapsed.TotalSeconds), Math.Round(sw.Elapsed.TotalSeconds, 3),
            Math.Round(report.Elapsed.TotalMilliseconds, 1), [.. millis.Select(m => Math.Round(m, 1))], Math.Round(sorted[sorted.Count / 2], 1), moves,
            "grain client (the silo's own IGrainFactory, as the REST API's handlers use it)", System.Runtime.GCSettings.IsServerGC);
    }

    private static Guest Guest(string name, int i, int seed) => new()
    {
        Name = name,
        VCpus = 1 + (i * 7 + seed) % 4,
        MemoryMiB = 1024L << ((i * 3 + seed) % 3),
    };

    private static async Task<(int Placed, int Rejected)> Place(EmbeddedFleet fleet, List<Guest> specs, int parallel)
    {
        int placed = 0, rejected = 0, next = -1;
        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < specs.Count)
            {
                try { await fleet.Scheduler.Place(specs[i]); Interlocked.Increment(ref placed); }
                catch (ClusterException e) when (e.Kind == ProblemKind.Conflict) { Interlocked.Increment(ref rejected); }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, parallel).Select(_ => Worker()));
        return (placed, rejected);
    }

    private static async Task ActivateBalanced(EmbeddedFleet fleet)
    {
        using var stream = typeof(ClusterBenchCommand).Assembly.GetManifestResourceStream("balanced.yaml")
            ?? throw new InvalidOperationException("the built-in balanced policy is missing from this build");
        var text = await new StreamReader(stream).ReadToEndAsync();
        var policies = fleet.Grains.GetGrain<IPolicyGrain>(Cluster.Key);
        var v = await policies.Submit(text, "balanced.yaml");
        await policies.Activate(v.Name, v.Version);
    }
}
