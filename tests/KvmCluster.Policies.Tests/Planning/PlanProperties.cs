using System.Collections.Immutable;
using CsCheck;
using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Planning;
using KvmCluster.Policies.Rules;
using PolicyT = KvmCluster.Policies.Rules.Policy;

namespace KvmCluster.Policies.Tests.Planning;

/// <summary>
/// Over random fleets and every balancer: each step of each plan passes the hard constraints and no host is
/// over-committed at any instant (a migrating guest counts on both hosts), checked by an oracle independent
/// of the engine; evenly-distributed never makes the fleet less even.
/// </summary>
public class PlanProperties
{
    private static readonly string[] Models = ["qemu64", "Haswell", "Skylake-Server"];

    internal static FleetSnapshot RandomFleet(Random r)
    {
        var hosts = new List<Host>();
        var n = r.Next(2, 9);
        for (var i = 0; i < n; i++)
        {
            var skylake = r.NextDouble() < 0.6;
            hosts.Add(new Host
            {
                Name = $"hv-{i:00}",
                Cpu = new HostCpu
                {
                    Vendor = "GenuineIntel",
                    ModelName = skylake ? "Gold" : "E5",
                    Flags = (r.NextDouble() < 0.85 ? new[] { "lm", "nx" } : new[] { "lm" }).ToImmutableSortedSet(StringComparer.Ordinal),
                    QemuModels = (skylake ? Models : Models[..2]).ToImmutableSortedSet(StringComparer.Ordinal),
                    Threads = r.Next(2, 9),
                    MhzPerThread = 2000,
                },
                MemoryMiB = 16384,
                Hugepages = r.NextDouble() < 0.5 ? [new HugepagePool(HugepagePool.Size2M, 4096, 4096)] : [],
                Maintenance = r.NextDouble() < 0.2,
                Power = r.NextDouble() < 0.15 ? PowerState.Standby : PowerState.On,
                PowerModel = PowerModel.HpMl110G5,
            });
        }
        // Guests are placed by the engine itself, so the starting fleet is valid; loads are random.
        var engine = new PlacementEngine(new FleetSnapshot(hosts, []), PolicyT.Default);
        var guests = new List<Guest>();
        var depth = r.Next(1, 14);
        var count = r.Next(1, 60);
        for (var i = 0; i < count; i++)
        {
            var g = new Guest
            {
                Name = $"g{i:00}",
                VCpus = r.Next(1, 7),
                MemoryMiB = 1024L * r.Next(1, 7),
                Cpu = GuestCpu.Named(Models[r.Next(Models.Length)]),
                RequiresNx = r.NextDouble() < 0.8,
                HugepageSizeKiB = r.NextDouble() < 0.15 ? HugepagePool.Size2M : null,
                Usage = new UsageHistory([.. Enumerable.Range(0, depth).Select(_ => r.Next(0, 8000) * 1.0)], [], [.. Enumerable.Range(0, depth).Select(_ => r.Next(0, 40) * 1.0)]),
            };
            var (placed, _) = engine.PlaceAndReserve(g, DateTimeOffset.UnixEpoch, TimeSpan.FromDays(1), PlaceOptions.Fast);
            if (placed.Host is { } h) guests.Add(g with { Host = h });
        }
        // Maintenance and standby were only to be avoided while placing; keep the guests where they are.
        return new FleetSnapshot(hosts, guests) { SampleIntervalSeconds = 300 };
    }

    internal static PolicyT RandomPolicy(Random r) => r.Next(4) switch
    {
        0 => PolicyT.Default with { Name = "even", Kind = BalancerKind.EvenlyDistributed, EvenlyDistributed = new() { Threshold = r.Next(2, 6), HoldMinutes = 0, MaxMovesPerRound = r.Next(1, 6) } },
        1 => PolicyT.Default with { Name = "ps", Kind = BalancerKind.PowerSaving, PowerSaving = new() { HostsInReserve = r.Next(0, 2), PowerOffWindowMinutes = 5 } },
        2 => PolicyT.Default with { Name = "lr", Kind = BalancerKind.Adaptive, Adaptive = new() { Detector = (OverloadDetector)r.Next(5), Parameter = r.NextDouble() < 0.5 ? 0.8 : 1.2, Selection = (VmSelection)r.Next(4) } },
        _ => PolicyT.Default,
    };

    [Fact]
    public void Every_step_of_every_plan_is_transient_safe_and_passes_the_hard_constraints()
    {
        Gen.Int.Sample(seed =>
        {
            var r = new Random(seed);
            var fleet = RandomFleet(r);
            var policy = RandomPolicy(r);
            var plan = Rebalancer.Plan(fleet, policy, new PlanningContext { Now = ScenarioTests.Now });
            Oracle.Check(fleet, policy, plan);
        }, iter: 300);
    }

    [Fact]
    public void Evenly_distributed_never_increases_imbalance() => Gen.Int.Sample(seed => EvenlyDistributedDoesNotIncreaseImbalance(seed), iter: 300);

    /// <summary>
    /// Found by the property above: the balancer's three moves could be ordered only in part, and the part left sent a
    /// guest on to where a refused move would have made room — the imbalance grew. The plan is now the longest prefix
    /// of the balancer's sequence that builds whole, and the rest is refused with why.
    /// </summary>
    [Fact]
    public void A_sequence_the_builder_can_order_only_in_part_is_cut_to_a_prefix_that_improves_the_fleet()
    {
        var plan = EvenlyDistributedDoesNotIncreaseImbalance(677957318);
        Assert.Contains(plan.Refused, r => r.Reason.StartsWith(PlanBuilder.Unorderable, StringComparison.Ordinal));
    }

    private static Plan EvenlyDistributedDoesNotIncreaseImbalance(int seed)
    {
        var r = new Random(seed);
        var fleet = RandomFleet(r) is var f ? f with { Hosts = [.. f.Hosts.Select(h => h with { Maintenance = false })] } : null!;
        var policy = PolicyT.Default with { Name = "even", Kind = BalancerKind.EvenlyDistributed, EvenlyDistributed = new() { Threshold = 5, HoldMinutes = 0, MaxMovesPerRound = 10, MinImprovement = 0 } };
        var plan = Rebalancer.Plan(fleet, policy, new PlanningContext { Now = ScenarioTests.Now });
        var after = PlanApplication.Apply(fleet, plan);
        double Imbalance(FleetSnapshot s)
        {
            var state = new PlacementState(s, policy);
            var hosts = Enumerable.Range(0, state.HostCount).Where(state.Accepts).ToList();
            return EvenlyDistributedBalancer.Imbalance(state, hosts, 0, policy.EvenlyDistributed);
        }
        Assert.True(Imbalance(after) <= Imbalance(fleet) + 1e-9, $"imbalance grew: {Imbalance(fleet)} → {Imbalance(after)}\n{plan.ToText()}");
        return plan;
    }
}

/// <summary>Re-derives every hard rule from the records, wave by wave, without the placement engine.</summary>
internal static class Oracle
{
    public static void Check(FleetSnapshot fleet, PolicyT policy, Plan plan)
    {
        var hosts = fleet.Hosts.ToDictionary(h => h.Name);
        var on = fleet.Hosts.Where(h => h.AcceptsGuests).Select(h => h.Name).ToHashSet();
        var where = fleet.Guests.Where(g => g.Host is not null).ToDictionary(g => g.Name, g => g.Host!);
        var guests = fleet.Guests.ToDictionary(g => g.Name);
        var movedAlready = new HashSet<string>();
        foreach (var wave in plan.Actions.GroupBy(a => a.Wave).OrderBy(w => w.Key))
        {
            foreach (var p in wave.OfType<PowerAction>().Where(p => p.Operation == PowerOperation.PowerOn)) on.Add(p.Host);
            var migrations = wave.OfType<MigrateAction>().ToList();
            foreach (var m in migrations)
            {
                var g = guests[m.Guest];
                var to = hosts[m.To];
                Assert.Equal(m.From, where[m.Guest]);
                Assert.True(on.Contains(m.To), $"{m}: destination not accepting guests");
                Assert.False(g.HasPassthrough, $"{m}: passthrough guests never migrate");
                Assert.Contains(g.Cpu.Model!, to.Cpu.QemuModels);
                if (g.RequiresNx) Assert.Contains("nx", to.Cpu.Flags);
                Assert.Equal(hosts[m.From].Cpu.HasFlag("nx"), to.Cpu.HasFlag("nx"));
                if (g.Is64Bit) Assert.Contains("lm", to.Cpu.Flags);
                if (g.HugepageSizeKiB is { } size) Assert.NotNull(to.Pool(size));
                Assert.DoesNotContain(where, kv => kv.Value == m.To && kv.Key == m.Guest);
            }
            // During the wave each migrating guest counts on its source and its destination.
            var occupants = fleet.Hosts.ToDictionary(h => h.Name, _ => new List<Guest>());
            foreach (var (name, host) in where) occupants[host].Add(guests[name]);
            foreach (var m in migrations) occupants[m.To].Add(guests[m.Guest]);
            foreach (var (name, list) in occupants)
            {
                var h = hosts[name];
                Assert.True(list.Sum(g => g.VCpus) <= h.Cpu.Threads * policy.Overcommit.Cpu + 1e-9 || !migrations.Any(m => m.To == name),
                    $"wave {wave.Key}: {name} over-committed on vCPUs");
                Assert.True(list.Sum(g => g.GeneralMemoryMiB) <= h.GeneralMemoryMiB * policy.Overcommit.Memory + 1e-9 || !migrations.Any(m => m.To == name),
                    $"wave {wave.Key}: {name} over-committed on memory");
                foreach (var pool in h.Hugepages)
                {
                    var initial = fleet.Guests.Where(g => g.Host == name && g.HugepageSizeKiB == pool.PageSizeKiB).Sum(g => g.HugepageCount);
                    var needed = list.Where(g => g.HugepageSizeKiB == pool.PageSizeKiB).Sum(g => g.HugepageCount) - initial;
                    Assert.True(needed <= pool.Available || !migrations.Any(m => m.To == name), $"wave {wave.Key}: {name} out of hugepages");
                }
            }
            foreach (var m in migrations) { where[m.Guest] = m.To; movedAlready.Add(m.Guest); }
            foreach (var p in wave.OfType<PowerAction>().Where(p => p.Operation == PowerOperation.PowerOff))
            {
                Assert.DoesNotContain(where, kv => kv.Value == p.Host);
                on.Remove(p.Host);
            }
        }
    }
}
