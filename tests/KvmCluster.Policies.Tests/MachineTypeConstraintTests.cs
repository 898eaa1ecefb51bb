using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using static KvmCluster.Policies.Tests.Build;

namespace KvmCluster.Policies.Tests;

/// <summary>A guest's pinned machine type needs a QEMU that has it, and a migration needs a QEMU at least as new.</summary>
public sealed class MachineTypeConstraintTests
{
    private static Host Qemu(string name, string version, params string[] machines) => Host(name) with { Qemu = new QemuCapabilities(version, [.. machines]) };

    [Fact]
    public void A_host_whose_QEMU_lacks_the_pinned_machine_type_is_refused_with_the_reason()
    {
        var fleet = Fleet([Qemu("new", "7.2.22", "pc-q35-7.2", "pc-q35-7.1", "q35"), Qemu("old", "7.0.0", "pc-q35-7.0", "q35"), Host("simulated")]);
        var engine = new PlacementEngine(fleet, Rules.Policy.Default);
        var guest = Guest("db-1") with { Machine = "pc-q35-7.2" };
        Assert.Empty(engine.Evaluate(guest, "new"));
        var refused = Assert.Single(engine.Evaluate(guest, "old"));
        Assert.Equal("machine-type", refused.ConstraintId);
        Assert.Equal("host old's QEMU 7.0.0 has no machine type pc-q35-7.2", refused.Message);
        Assert.Empty(engine.Evaluate(guest, "simulated")); // a host whose QEMU is unknown is not judged
        Assert.Empty(engine.Evaluate(Guest("unpinned"), "old"));
    }

    [Fact]
    public void A_running_guest_migrates_only_to_a_QEMU_at_least_as_new_as_its_sources()
    {
        var running = Guest("db-1", host: "src") with { Machine = "pc-q35-7.1" };
        var fleet = Fleet([Qemu("src", "7.2.0", "pc-q35-7.1", "pc-q35-7.2"), Qemu("older", "7.1.5", "pc-q35-7.1"), Qemu("same", "7.2.0", "pc-q35-7.1"), Qemu("newer", "8.0.0", "pc-q35-7.1")], [running]);
        var engine = new PlacementEngine(fleet, Rules.Policy.Default);
        Assert.Equal("host older runs QEMU 7.1.5, older than src's 7.2.0 (keep the hosts' QEMU alike)", Assert.Single(engine.Evaluate(running, "older")).Message);
        Assert.Empty(engine.Evaluate(running, "same"));
        Assert.Empty(engine.Evaluate(running, "newer"));
        Assert.Equal(["newer", "same"], engine.Reach(running));
    }

    [Theory]
    [InlineData("PC-Q35")]
    [InlineData("q35,accel=kvm")]
    [InlineData("-q35")]
    public void A_malformed_machine_type_is_refused_naming_the_field(string machine) =>
        Assert.Contains((Guest("db-1") with { Machine = machine }).Problems(), p => p.Field == "machine");
}
