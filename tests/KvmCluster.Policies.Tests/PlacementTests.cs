using System.Collections.Immutable;
using KvmCluster.Policies.Classes;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using static KvmCluster.Policies.Tests.Build;
using PolicyT = KvmCluster.Policies.Rules.Policy;

namespace KvmCluster.Policies.Tests;

public class PlacementTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Spread_picks_the_least_allocated_host_and_explains_every_rejection()
    {
        var fleet = Fleet(
            [Host("hv-01"), Host("hv-02"), Host("hv-03", HaswellCpu), Host("hv-04") with { Maintenance = true }],
            [Guest("a", vcpus: 8, memoryMiB: 16384, host: "hv-01"), Guest("b", vcpus: 2, memoryMiB: 2048, host: "hv-02")]);
        var g = Guest("new") with { Cpu = GuestCpu.Named("Skylake-Server") };
        var result = PlacementEngine.Place(fleet, g, PolicyT.Default);
        Assert.Equal("hv-02", result.Host);
        Assert.Equal(2, result.Feasible);
        Assert.Equal(["hv-03", "hv-04"], result.Rejected.Select(r => r.Host));
        Assert.Equal("cpu-model", Assert.Single(result.Rejected[0].Reasons).ConstraintId);
        Assert.Equal("host-state", Assert.Single(result.Rejected[1].Reasons).ConstraintId);
        Assert.Contains(result.Breakdown, t => t.Scorer == "spread");
    }

    [Fact]
    public void Pack_picks_the_fullest_host_that_fits()
    {
        var fleet = Fleet([Host("hv-01"), Host("hv-02")], [Guest("a", vcpus: 8, memoryMiB: 16384, host: "hv-01")]);
        var pack = PolicyT.Default with { Weights = new(Spread: 0, Pack: 1, SoftAffinity: 0) };
        Assert.Equal("hv-01", PlacementEngine.Place(fleet, Guest("n"), pack).Host);
    }

    [Fact]
    public void Power_scorer_prefers_the_host_whose_draw_grows_least()
    {
        // Same load; the G4 table rises less at this point than the G5 table.
        var g4 = Host("hv-g4") with { PowerModel = PowerModel.HpMl110G4 };
        var g5 = Host("hv-g5") with { PowerModel = PowerModel.HpMl110G5 };
        var power = PolicyT.Default with { Weights = new(Spread: 0, Power: 1, SoftAffinity: 0) };
        var guest = Guest("n") with { Usage = new UsageHistory([8000], [], []) };
        Assert.Equal("hv-g4", PlacementEngine.Place(Fleet([g5, g4]), guest, power).Host);
    }

    [Fact]
    public void Soft_affinity_weighs_but_does_not_filter()
    {
        var labelled = Host("hv-b") with { Labels = new Dictionary<string, string> { ["ssd"] = "yes" }.ToImmutableSortedDictionary(StringComparer.Ordinal) };
        var fleet = Fleet([Host("hv-a"), labelled], [Guest("x", vcpus: 8, memoryMiB: 16000, host: "hv-b")]);
        var g = Guest("n") with { Affinity = [new AffinityRule(AffinityScope.Host, "ssd", "yes", Anti: false, Hard: false, Weight: 1)] };
        var affinityOnly = PolicyT.Default with { Weights = new(Spread: 0.1, SoftAffinity: 1) };
        Assert.Equal("hv-b", PlacementEngine.Place(fleet, g, affinityOnly).Host);
        Assert.Equal("hv-a", PlacementEngine.Place(fleet, g, PolicyT.Default with { Weights = new(Spread: 1, SoftAffinity: 0) }).Host);
    }

    [Fact]
    public void No_host_fits_gives_no_host_and_all_reasons()
    {
        var fleet = Fleet([Host("hv-01"), Host("hv-02")]);
        var result = PlacementEngine.Place(fleet, Guest("huge", vcpus: 200), PolicyT.Default);
        Assert.False(result.Placed);
        Assert.Equal(2, result.Rejected.Count);
        Assert.All(result.Rejected, r => Assert.Equal("capacity", r.Reasons.Single().ConstraintId));
    }

    [Fact]
    public void A_running_guest_is_not_placed_on_its_own_host_unless_allowed()
    {
        var fleet = Fleet([Host("hv-01"), Host("hv-02")], [Guest("a", host: "hv-01")]);
        var engine = new PlacementEngine(fleet, PolicyT.Default);
        Assert.Equal("hv-02", engine.Place(fleet.Guests[0]).Host);
        var stay = engine.Place(fleet.Guests[0], new PlaceOptions { AllowCurrentHost = true });
        Assert.Equal(2, stay.Feasible);
        // Staying needs no block migration even where moving would.
        var local = Fleet([Host("hv-01"), Host("hv-02")], [Guest("l", host: "hv-01") with { Disks = [new GuestDisk(DiskKind.Local, SizeGiB: 10)] }]);
        var e2 = new PlacementEngine(local, PolicyT.Default);
        var moved = e2.Place(local.Guests[0]);
        Assert.False(moved.Placed);
        Assert.Contains(moved.Rejected, r => r.Host == "hv-01" && r.Reasons.Single().ConstraintId == "migration");
        Assert.Contains(moved.Rejected, r => r.Host == "hv-02" && r.Reasons.Single().ConstraintId == "storage");
        Assert.Equal("hv-01", e2.Place(local.Guests[0], new PlaceOptions { AllowCurrentHost = true }).Host);
    }

    [Fact]
    public void Reservations_prevent_double_booking_until_released_or_expired()
    {
        var fleet = Fleet([Host("hv-01") with { Cpu = SkylakeCpu with { Threads = 2 } }]); // 8 vCPU
        var engine = new PlacementEngine(fleet, PolicyT.Default);
        var (r1, res1) = engine.PlaceAndReserve(Guest("a", vcpus: 6), T0, TimeSpan.FromMinutes(5));
        Assert.Equal("hv-01", r1.Host);
        Assert.NotNull(res1);
        var blocked = engine.Place(Guest("b", vcpus: 4));
        Assert.False(blocked.Placed);
        Assert.Contains("6 reserved", blocked.Rejected.Single().Reasons.Single().Message);
        Assert.Equal(0, engine.ExpireReservations(T0 + TimeSpan.FromMinutes(4)));
        Assert.Equal(1, engine.ExpireReservations(T0 + TimeSpan.FromMinutes(5)));
        Assert.True(engine.Place(Guest("b", vcpus: 4)).Placed);
        var res2 = engine.Reserve(Guest("c", vcpus: 8), "hv-01", T0, TimeSpan.FromMinutes(1));
        engine.Commit(res2.Id);
        Assert.Equal(0, engine.ExpireReservations(T0 + TimeSpan.FromHours(1))); // committed: kept
        Assert.False(engine.Place(Guest("d", vcpus: 1)).Placed);
    }

    [Fact]
    public void Reserved_hugepages_and_names_are_held_too()
    {
        var fleet = Fleet([Host("hv") with { Hugepages = [new HugepagePool(HugepagePool.Size2M, 600, 600)] }]);
        var engine = new PlacementEngine(fleet, PolicyT.Default);
        var g = Guest("db", memoryMiB: 1024) with { HugepageSizeKiB = HugepagePool.Size2M };
        engine.Reserve(g, "hv", T0, TimeSpan.FromMinutes(1));
        var second = engine.Place(g with { Name = "db2" });
        Assert.Equal("guest needs 512 × 2 MiB, host hv has 600 free (512 reserved)", second.Rejected.Single().Reasons.Single().Message);
        Assert.Equal("name-clash", engine.Evaluate(Guest("db", memoryMiB: 1), "hv").Single().ConstraintId);
    }

    [Fact]
    public void Same_inputs_give_the_same_answer()
    {
        var fleet = Fleet(Enumerable.Range(0, 30).Select(i => Host($"hv-{i:00}")));
        string Run()
        {
            var e = new PlacementEngine(fleet, PolicyT.Default);
            return string.Join(",", Enumerable.Range(0, 200).Select(i =>
            {
                var (r, _) = e.PlaceAndReserve(Guest($"g{i}", vcpus: 1 + i % 4, memoryMiB: 512 * (1 + i % 5)), T0, TimeSpan.FromHours(1), PlaceOptions.Fast);
                return r.Host;
            }));
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void Hosts_with_identical_static_attributes_share_a_class()
    {
        var hosts = Enumerable.Range(0, 10).Select(i => Host($"a{i}"))
            .Concat(Enumerable.Range(0, 5).Select(i => Host($"b{i}", HaswellCpu)))
            .Append(Host("c") with { Hugepages = [new HugepagePool(HugepagePool.Size2M, 10, 10)] })
            .ToList();
        var index = new HostClassIndex(hosts);
        Assert.Equal(3, index.All.Count);
        Assert.Equal(10, index.All[0].Members.Length);
        // Memory size and free counters are not static attributes: they do not split classes.
        Assert.Single(new HostClassIndex([Host("x", memoryMiB: 1024), Host("y", memoryMiB: 4096)]).All);
    }

    [Fact]
    public void Cpu_baseline_is_the_intersection_of_models_and_flags()
    {
        var b = CpuBaseline.Of([Host("a"), Host("b", HaswellCpu)]);
        Assert.Equal(["Haswell", "qemu64"], b.Models);
        Assert.DoesNotContain("avx512f", b.Flags);
        Assert.Contains("avx2", b.Flags);
        Assert.Equal("GenuineIntel", b.Vendor);
        Assert.True(b.Admits(GuestCpu.Named("Haswell")));
        Assert.False(b.Admits(GuestCpu.Named("Skylake-Server")));
        Assert.Contains("avx512f", b.Problem(GuestCpu.Named("Haswell", new CpuFlagChange("avx512f", true))));
        Assert.NotNull(b.Problem(GuestCpu.Host));
    }

    [Fact]
    public void Reach_lists_hosts_a_guest_can_ever_run_on_regardless_of_load()
    {
        var fleet = Fleet([Host("sky-1"), Host("sky-2") with { Maintenance = true }, Host("has-1", HaswellCpu)],
            [Guest("full", vcpus: 64, host: "sky-1")]);
        var engine = new PlacementEngine(fleet, PolicyT.Default);
        Assert.Equal(["sky-1", "sky-2"], engine.Reach(Guest("g") with { Cpu = GuestCpu.Named("Skylake-Server") }));
        Assert.Equal(["has-1", "sky-1", "sky-2"], engine.Reach(Guest("g")));
    }
}
