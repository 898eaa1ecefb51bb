using System.Diagnostics;
using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Planning;
using KvmCluster.Sim.Synthetic;

namespace KvmCluster.Sim.Bench;

public sealed record PlanBenchResult(double PlanMillisMedian, int Moves, int PowerActions, int Rounds, int Hosts, int Guests, string Policy, IReadOnlyList<double> PlanMillis, double SetupSeconds);

/// <summary>
/// Plans several rounds over a synthetic fleet: guests packed onto hosts by the engine at 2 vCPUs per thread
/// (a consolidated fleet: some hosts run hot, many stay empty, so every balancer has work), 30 samples of
/// diurnal usage per guest, the window sliding one sample per round. Only <see cref="Rebalancer.Plan"/> is timed.
/// </summary>
public static class PlanBenchmark
{
    private const int History = 30;
    private const double Interval = 300;

    public static PlanBenchResult Run(int hostCount, int guestCount, int seed, Policies.Rules.Policy policy, int rounds)
    {
        var setup = Stopwatch.StartNew();
        var hosts = SyntheticFleet.Hosts(hostCount, seed);
        var pack = Policies.Rules.Policy.Default with { Weights = new(Spread: 0, Pack: 1, SoftAffinity: 0), Overcommit = new(Cpu: 2, Memory: 1) };
        var engine = new PlacementEngine(new FleetSnapshot(hosts, []), pack);
        var random = new Random(seed + 2);
        var placed = new List<(Guest Guest, double[] Series)>();
        foreach (var g in SyntheticFleet.Guests(guestCount, seed + 1))
        {
            var (result, reservation) = engine.PlaceAndReserve(g, DateTimeOffset.UnixEpoch, TimeSpan.FromDays(1), PlaceOptions.Fast);
            if (reservation is null) continue;
            engine.Commit(reservation.Id);
            placed.Add((g with { Host = result.Host }, SyntheticUsage.Series(g, History + rounds, Interval, 0, random)));
        }
        setup.Stop();

        var millis = new List<double>();
        int moves = 0, power = 0;
        for (var round = 0; round < rounds; round++)
        {
            var guests = placed.Select(p => p.Guest with { Usage = SyntheticUsage.Window(p.Series, History + round, History) });
            var snapshot = new FleetSnapshot(hosts, guests) { SampleIntervalSeconds = Interval };
            var context = new PlanningContext { Now = DateTimeOffset.UnixEpoch.AddSeconds(Interval * (History + round)) };
            var sw = Stopwatch.StartNew();
            var plan = Rebalancer.Plan(snapshot, policy, context);
            sw.Stop();
            millis.Add(sw.Elapsed.TotalMilliseconds);
            moves += plan.Migrations.Count();
            power += plan.PowerActions.Count();
        }
        var sorted = millis.Order().ToList();
        var median = sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
        return new PlanBenchResult(median, moves, power, rounds, hostCount, placed.Count, policy.Name, millis, setup.Elapsed.TotalSeconds);
    }
}
