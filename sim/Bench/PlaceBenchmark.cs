using System.Diagnostics;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using KvmCluster.Sim.Synthetic;

namespace KvmCluster.Sim.Bench;

public sealed record PlaceBenchResult(double PlacementsPerSecond, int Hosts, int Guests, int Rejected, int HostClasses, double Seconds, bool Explain, string Policy);

/// <summary>
/// Places synthetic guests one by one onto a synthetic fleet, each reserved and committed before the next,
/// as the scheduler grain does. Only the placement loop is timed; building the fleet is not.
/// </summary>
public static class PlaceBenchmark
{
    public static PlaceBenchResult Run(int hosts, int guests, int seed, Policies.Rules.Policy policy, bool explain)
    {
        var snapshot = new FleetSnapshot(SyntheticFleet.Hosts(hosts, seed), []);
        var todo = SyntheticFleet.Guests(guests, seed + 1).ToList();
        var engine = new PlacementEngine(snapshot, policy);
        var options = explain ? PlaceOptions.Explained : PlaceOptions.Fast;
        var now = DateTimeOffset.UnixEpoch;
        var ttl = TimeSpan.FromMinutes(5);
        var rejected = 0;
        var sw = Stopwatch.StartNew();
        foreach (var g in todo)
        {
            var (result, reservation) = engine.PlaceAndReserve(g, now, ttl, options);
            if (reservation is null) rejected++;
            else engine.Commit(reservation.Id);
        }
        sw.Stop();
        return new PlaceBenchResult(guests / sw.Elapsed.TotalSeconds, hosts, guests, rejected, engine.State.Classes.All.Count, sw.Elapsed.TotalSeconds, explain, policy.Name);
    }
}
