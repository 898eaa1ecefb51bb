using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using static KvmCluster.Policies.Tests.Build;

namespace KvmCluster.Policies.Tests;

/// <summary>A guest's NICs need every network they are on: the host must have each network's bridge.</summary>
public sealed class NetworkConstraintTests
{
    private static readonly Guest OnLab = Guest("web-1") with { Networks = [new GuestNic("lab"), new GuestNic("storage", Mac: "52:54:00:aa:bb:cc")] };

    [Fact]
    public void A_host_without_one_of_the_guests_networks_is_refused_and_the_reason_names_it()
    {
        var fleet = Fleet([Host("both") with { Networks = ["lab", "storage"] }, Host("lab-only") with { Networks = ["lab"] }, Host("none")]);
        var engine = new PlacementEngine(fleet, Rules.Policy.Default);
        Assert.Empty(engine.Evaluate(OnLab, "both"));
        var refused = Assert.Single(engine.Evaluate(OnLab, "lab-only"));
        Assert.Equal("network", refused.ConstraintId);
        Assert.Equal("host lab-only has no network 'storage' (the guest's NICs would lose their network)", refused.Message);
        Assert.Contains("'lab', 'storage'", Assert.Single(engine.Evaluate(OnLab, "none")).Message);
        Assert.Equal("both", engine.Place(OnLab).Host);
        // A guest without NICs on networks goes anywhere.
        Assert.Empty(engine.Evaluate(Guest("plain"), "none"));
    }

    [Fact]
    public void Hosts_that_differ_only_in_their_networks_are_not_one_class_and_a_migration_keeps_to_the_network()
    {
        var running = OnLab with { Host = "a" };
        var fleet = Fleet([Host("a") with { Networks = ["lab", "storage"] }, Host("b") with { Networks = ["lab"] }, Host("c") with { Networks = ["lab", "storage"] }], [running]);
        var engine = new PlacementEngine(fleet, Rules.Policy.Default);
        Assert.Equal(["c"], engine.Reach(running));
        Assert.Contains(engine.Evaluate(running, "b"), r => r.ConstraintId == "network");
    }

    [Theory]
    [InlineData("Lab", null, "virtio", "networks[0].network")]
    [InlineData("lab;rm", null, "virtio", "networks[0].network")]
    [InlineData("lab", "52:54:00:AA:BB:CC", "virtio", "networks[0].mac")]
    [InlineData("lab", "01:00:5e:00:00:01", "virtio", "networks[0].mac")]
    [InlineData("lab", "52:54:00:aa:bb", "virtio", "networks[0].mac")]
    [InlineData("lab", null, "rtl8139", "networks[0].model")]
    public void A_malformed_NIC_is_refused_naming_the_field(string network, string? mac, string model, string field) =>
        Assert.Contains((Guest("web-1") with { Networks = [new GuestNic(network, mac, model)] }).Problems(), p => p.Field == field);

    [Fact]
    public void Derived_MACs_are_stable_unicast_and_distinct_per_NIC_and_two_equal_MACs_are_refused()
    {
        var nic = new GuestNic("lab");
        Assert.Equal(nic.MacOf("web-1", 0), new GuestNic("lab").MacOf("web-1", 0));
        Assert.NotEqual(nic.MacOf("web-1", 0), nic.MacOf("web-1", 1));
        Assert.NotEqual(nic.MacOf("web-1", 0), nic.MacOf("web-2", 0));
        Assert.StartsWith("52:54:00:", nic.MacOf("web-1", 0));
        var twice = Guest("web-1") with { Networks = [new GuestNic("lab", "52:54:00:00:00:01"), new GuestNic("lab", "52:54:00:00:00:01")] };
        Assert.Contains(twice.Problems(), p => p.Field == "networks");
    }
}
