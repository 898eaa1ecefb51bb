using System.Collections.Immutable;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using static KvmCluster.Policies.Tests.Build;
using PolicyT = KvmCluster.Policies.Rules.Policy;

namespace KvmCluster.Policies.Tests;

/// <summary>Every mandatory constraint, once admitting and once rejecting, with the reason it gives.</summary>
public class ConstraintTests
{
    private static IReadOnlyList<Constraints.Rejection> Why(FleetSnapshot fleet, Guest guest, string host, PolicyT? policy = null) =>
        new PlacementEngine(fleet, policy ?? PolicyT.Default).Evaluate(guest, host);

    private static void Admitted(FleetSnapshot f, Guest g, string host, PolicyT? p = null) => Assert.Empty(Why(f, g, host, p));

    private static string Rejected(FleetSnapshot f, Guest g, string host, string constraint, PolicyT? p = null)
    {
        var reasons = Why(f, g, host, p);
        var r = Assert.Single(reasons, x => x.ConstraintId == constraint);
        return r.Message;
    }

    [Fact]
    public void Capacity_counts_vcpus_with_overcommit_and_memory()
    {
        var fleet = Fleet([Host("hv-01") with { Cpu = SkylakeCpu with { Threads = 4 }, MemoryMiB = 8192 }],
            [Guest("busy", vcpus: 14, memoryMiB: 4096, host: "hv-01")]);
        Admitted(fleet, Guest("small", vcpus: 2, memoryMiB: 4096), "hv-01"); // 16 vCPU cap = 4 threads × 4.0
        var msg = Rejected(fleet, Guest("big", vcpus: 3, memoryMiB: 1024), "hv-01", "capacity");
        Assert.Contains("guest needs 3 vCPU, host hv-01 has 2 of 16 free", msg);
        msg = Rejected(fleet, Guest("fat", vcpus: 1, memoryMiB: 4097), "hv-01", "capacity");
        Assert.Contains("guest needs 4097 MiB, host hv-01 has 4096 of 8192 MiB free", msg);
        var strict = PolicyT.Default with { Overcommit = new(Cpu: 1.0, Memory: 1.0) };
        Rejected(fleet, Guest("small", vcpus: 2, memoryMiB: 1024), "hv-01", "capacity", strict);
    }

    [Fact]
    public void Cpu_model_must_be_usable_and_flags_present()
    {
        var fleet = Fleet([Host("hv-sky"), Host("hv-has", HaswellCpu)]);
        var g = Guest("web") with { Cpu = GuestCpu.Named("Skylake-Server") };
        Admitted(fleet, g, "hv-sky");
        Assert.Contains("CPU model Skylake-Server is not usable on host hv-has", Rejected(fleet, g, "hv-has", "cpu-model"));
        var avx512 = Guest("hpc") with { Cpu = GuestCpu.Named("Haswell", new CpuFlagChange("avx512f", true)) };
        Admitted(fleet, avx512, "hv-sky");
        Assert.Contains("needs flags avx512f that host hv-has lacks", Rejected(fleet, avx512, "hv-has", "cpu-model"));
        // Removing a flag never requires anything.
        Admitted(fleet, Guest("minus") with { Cpu = GuestCpu.Named("Haswell", new CpuFlagChange("avx512f", false)) }, "hv-has");
    }

    [Fact]
    public void Host_passthrough_migrates_only_to_an_identical_processor()
    {
        var fleet = Fleet([Host("hv-a"), Host("hv-b"), Host("hv-c", HaswellCpu)],
            [Guest("pt", host: "hv-a") with { Cpu = GuestCpu.Host }]);
        var g = fleet.FindGuest("pt")!;
        Admitted(fleet, g, "hv-b");
        var msg = Rejected(fleet, g, "hv-c", "cpu-model");
        Assert.Contains("source hv-a is GenuineIntel", msg);
        Assert.Contains("host hv-c is GenuineIntel 'Intel(R) Xeon(R) CPU E5-2680 v3", msg);
        // Initial placement of a host-passthrough guest may go anywhere.
        Admitted(fleet, Guest("new-pt") with { Cpu = GuestCpu.Host }, "hv-c");
    }

    [Fact]
    public void Nx_required_and_must_match_between_source_and_destination()
    {
        var noNx = SkylakeCpu with { Flags = SkylakeCpu.Flags.Remove("nx") };
        var fleet = Fleet([Host("hv-nx"), Host("hv-nonx", noNx), Host("hv-nonx2", noNx)],
            [Guest("legacy", host: "hv-nonx") with { RequiresNx = false }]);
        Assert.Contains("requires NX but host hv-nonx does not expose the nx flag", Rejected(fleet, Guest("g"), "hv-nonx", "nx"));
        Admitted(fleet, Guest("g"), "hv-nx");
        var legacy = fleet.FindGuest("legacy")!;
        Admitted(fleet, legacy, "hv-nonx2");
        Assert.Contains("NX differs: source hv-nonx has NX off, host hv-nx has it on", Rejected(fleet, legacy, "hv-nx", "nx"));
    }

    [Fact]
    public void A_64_bit_guest_needs_long_mode()
    {
        var fleet = Fleet([Host("hv-64"), Host("hv-32", SkylakeCpu with { Flags = Set("nx") })]);
        Admitted(fleet, Guest("g"), "hv-64");
        Assert.Contains("lacks the lm flag", Rejected(fleet, Guest("g"), "hv-32", "64-bit"));
        Admitted(fleet, Guest("old") with { Is64Bit = false }, "hv-32");
    }

    [Fact]
    public void Nested_needs_vmx_or_svm_and_the_module_parameter()
    {
        var fleet = Fleet([Host("hv-nested"), Host("hv-flat", HaswellCpu), Host("hv-novmx", HaswellCpu with { Flags = Set("lm", "nx"), NestedEnabled = true })]);
        var g = Guest("l1") with { Cpu = GuestCpu.Named("Haswell", new CpuFlagChange("vmx", true)) };
        Admitted(fleet, g, "hv-nested");
        Assert.Contains("nested is disabled on host hv-flat", Rejected(fleet, g, "hv-flat", "nested"));
        Assert.Contains("has neither vmx nor svm", Rejected(fleet, g with { Cpu = GuestCpu.Named("qemu64", new CpuFlagChange("svm", true)) }, "hv-novmx", "nested"));
    }

    [Fact]
    public void Hugepages_counted_per_size_net_of_reservations()
    {
        var host = Host("hv-07") with { Hugepages = [new HugepagePool(HugepagePool.Size2M, 1024, 300, 120)] };
        var fleet = Fleet([host, Host("hv-08")]);
        var g = Guest("db", memoryMiB: 1024) with { HugepageSizeKiB = HugepagePool.Size2M }; // 512 pages
        var msg = Rejected(fleet, g, "hv-07", "hugepages");
        Assert.Equal("guest needs 512 × 2 MiB, host hv-07 has 300 free (120 reserved)", msg);
        Admitted(fleet, g with { MemoryMiB = 360 }, "hv-07"); // 180 pages = 300 − 120
        Rejected(fleet, g with { MemoryMiB = 362 }, "hv-07", "hugepages");
        Assert.Contains("has no such pool", Rejected(fleet, g, "hv-08", "hugepages"));
        Assert.Contains("has no such pool", Rejected(fleet, g with { HugepageSizeKiB = HugepagePool.Size1G, MemoryMiB = 1024 }, "hv-07", "hugepages"));
    }

    [Fact]
    public void Hugepage_guests_do_not_use_general_memory_and_pools_are_carved_out()
    {
        var host = Host("hv") with { MemoryMiB = 4096, Hugepages = [new HugepagePool(HugepagePool.Size2M, 1024, 1024)] }; // 2 GiB pool
        var fleet = Fleet([host]);
        Assert.Equal(2048, host.GeneralMemoryMiB);
        Admitted(fleet, Guest("hp", memoryMiB: 2048) with { HugepageSizeKiB = HugepagePool.Size2M }, "hv");
        Rejected(fleet, Guest("normal", memoryMiB: 2049), "hv", "capacity");
    }

    [Fact]
    public void Passthrough_needs_a_free_device_and_never_migrates()
    {
        var gpuHost = Host("hv-gpu") with { PciDevices = [new("0000:3b:00.0", "10de:1db6"), new("0000:3c:00.0", "10de:1db6", AssignedTo: "other")] };
        var fleet = Fleet([gpuHost, Host("hv-plain"), Host("hv-gpu2") with { PciDevices = [new("0000:3b:00.0", "10de:1db6")] }],
            [Guest("ml", host: "hv-gpu") with { PciDevices = ["10de:1db6"] }]);
        var newGuest = Guest("ml2") with { PciDevices = ["10de:1db6"] };
        Admitted(fleet, newGuest, "hv-gpu");
        Assert.Contains("has no assignable device 10de:1db6", Rejected(fleet, newGuest, "hv-plain", "pci-passthrough"));
        Assert.Contains("2 × 10de:1db6 wanted, 1 free", Rejected(fleet, newGuest with { PciDevices = ["10de:1db6", "10de:1db6"] }, "hv-gpu", "pci-passthrough"));
        Assert.Contains("cannot be live-migrated", Rejected(fleet, fleet.FindGuest("ml")!, "hv-gpu2", "pci-passthrough"));
    }

    [Fact]
    public void Sriov_needs_free_vfs_on_the_network()
    {
        var fleet = Fleet([Host("hv-a") with { Sriov = [new("0000:5e:00.0", "physnet1", 8, 2), new("0000:5e:00.1", "physnet2", 8, 8)] }, Host("hv-b")]);
        var g = Guest("nfv") with { SriovVfs = 2, SriovNetwork = "physnet1" };
        Admitted(fleet, g, "hv-a");
        Assert.Contains("guest needs 3 VF(s) on physnet1, host hv-a has 2 free", Rejected(fleet, g with { SriovVfs = 3 }, "hv-a", "sriov"));
        Assert.Contains("no SR-IOV physical function on network physnet1", Rejected(fleet, g, "hv-b", "sriov"));
    }

    [Fact]
    public void Storage_shared_mounts_backing_images_and_local_disks()
    {
        var nfs = new HostStorage { Mounts = new Dictionary<string, string> { ["/var/lib/kvm/shared"] = "nfs1:/export/vm" }.ToImmutableSortedDictionary(StringComparer.Ordinal), BackingImages = Set("debian-12.qcow2"), LocalFreeGiB = 100 };
        var other = nfs with { Mounts = new Dictionary<string, string> { ["/var/lib/kvm/shared"] = "nfs2:/export/vm" }.ToImmutableSortedDictionary(StringComparer.Ordinal), BackingImages = Set(), LocalFreeGiB = 10 };
        var fleet = Fleet([Host("hv-a") with { Storage = nfs }, Host("hv-b") with { Storage = nfs }, Host("hv-c") with { Storage = other }],
            [Guest("local", host: "hv-a") with { Disks = [new GuestDisk(DiskKind.Local, SizeGiB: 20)] }]);
        var shared = Guest("s") with { Disks = [new GuestDisk(DiskKind.Shared, "/var/lib/kvm/shared", "nfs1:/export/vm")] };
        Admitted(fleet, shared, "hv-b");
        Assert.Contains("/var/lib/kvm/shared on host hv-c is nfs2:/export/vm, guest's disk is on nfs1:/export/vm", Rejected(fleet, shared, "hv-c", "storage"));
        var overlay = Guest("o") with { Disks = [new GuestDisk(DiskKind.Overlay, Image: "debian-12.qcow2")] };
        Admitted(fleet, overlay, "hv-b");
        Assert.Contains("backing image debian-12.qcow2 is not on host hv-c", Rejected(fleet, overlay, "hv-c", "storage"));
        var local = fleet.FindGuest("local")!;
        Assert.Contains("needs block migration", Rejected(fleet, local, "hv-b", "storage"));
        var allow = PolicyT.Default with { Migration = new() { AllowBlockMigration = true } };
        Admitted(fleet, local, "hv-b", allow);
        Assert.Contains("needs 20 GiB of local disk, host hv-c has 10 GiB free", Rejected(fleet, local, "hv-c", "storage", allow));
    }

    [Fact]
    public void Name_clash_on_the_destination()
    {
        var fleet = Fleet([Host("hv-a"), Host("hv-b")], [Guest("web", host: "hv-a")]);
        Assert.Contains("a guest named web already runs on", Rejected(fleet, Guest("web"), "hv-a", "name-clash"));
        Admitted(fleet, Guest("web"), "hv-b");
    }

    [Fact]
    public void Host_state_maintenance_standby_and_off()
    {
        var fleet = Fleet([Host("on"), Host("maint") with { Maintenance = true }, Host("sb") with { Power = PowerState.Standby }, Host("off") with { Power = PowerState.Off }]);
        Admitted(fleet, Guest("g"), "on");
        Assert.Contains("host maint is in maintenance", Rejected(fleet, Guest("g"), "maint", "host-state"));
        Assert.Contains("host sb is standby", Rejected(fleet, Guest("g"), "sb", "host-state"));
        Assert.Contains("host off is off", Rejected(fleet, Guest("g"), "off", "host-state"));
    }

    [Fact]
    public void Hard_host_affinity_and_anti_affinity()
    {
        var r1 = Host("hv-r1") with { Labels = new Dictionary<string, string> { ["rack"] = "r1" }.ToImmutableSortedDictionary(StringComparer.Ordinal) };
        var fleet = Fleet([r1, Host("hv-x")]);
        var onR1 = Guest("g") with { Affinity = [new AffinityRule(AffinityScope.Host, "rack", "r1", Anti: false, Hard: true)] };
        Admitted(fleet, onR1, "hv-r1");
        Assert.Contains("must run on a host labelled rack=r1", Rejected(fleet, onR1, "hv-x", "host-affinity"));
        var notR1 = Guest("g") with { Affinity = [new AffinityRule(AffinityScope.Host, "rack", "r1", Anti: true, Hard: true)] };
        Admitted(fleet, notR1, "hv-x");
        Assert.Contains("must not run on hosts labelled rack=r1", Rejected(fleet, notR1, "hv-r1", "host-affinity"));
        // A soft rule never rejects.
        Admitted(fleet, Guest("g") with { Affinity = [new AffinityRule(AffinityScope.Host, "rack", "r1", Anti: false, Hard: false)] }, "hv-x");
    }

    [Fact]
    public void Hard_guest_affinity_and_anti_affinity()
    {
        var db = new Dictionary<string, string> { ["app"] = "db" }.ToImmutableSortedDictionary(StringComparer.Ordinal);
        var fleet = Fleet([Host("hv-a"), Host("hv-b")], [Guest("db-1", host: "hv-a") with { Labels = db }]);
        var apart = Guest("db-2") with { Labels = db, Affinity = [new AffinityRule(AffinityScope.Guest, "app", "db", Anti: true, Hard: true)] };
        Admitted(fleet, apart, "hv-b");
        Assert.Contains("must not share a host with guests labelled app=db; host hv-a runs 1", Rejected(fleet, apart, "hv-a", "guest-affinity"));
        var together = Guest("cache") with { Affinity = [new AffinityRule(AffinityScope.Guest, "app", "db", Anti: false, Hard: true)] };
        Admitted(fleet, together, "hv-a");
        Assert.Contains("must run with guests labelled app=db; host hv-b runs none", Rejected(fleet, together, "hv-b", "guest-affinity"));
        // The first member of a positive group may go anywhere.
        Admitted(Fleet([Host("hv-a"), Host("hv-b")]), together, "hv-b");
    }

    [Fact]
    public void Policy_filters_add_to_the_mandatory_ones()
    {
        var zoneA = Host("hv-a") with { Labels = new Dictionary<string, string> { ["zone"] = "a" }.ToImmutableSortedDictionary(StringComparer.Ordinal) };
        var fleet = Fleet([zoneA, Host("hv-b")], [Guest("x", host: "hv-a")]);
        var policy = PolicyT.Default with
        {
            Filters =
            [
                new Rules.RequireHostLabelsFilter(new Dictionary<string, string> { ["zone"] = "a" }.ToImmutableSortedDictionary(StringComparer.Ordinal)),
                new Rules.MaxGuestsPerHostFilter(1),
            ],
        };
        Assert.Contains("policy requires label(s) zone=a, which host hv-b lacks", Rejected(fleet, Guest("g"), "hv-b", "require-host-labels", policy));
        Assert.Contains("already runs 1 guests; policy allows 1", Rejected(fleet, Guest("g"), "hv-a", "max-guests-per-host", policy));
        var busy = Fleet([Host("hv-a"), Host("hv-b")], [Guest("hot", host: "hv-a") with { Usage = new UsageHistory([29000], [], []) }]); // 29 GHz of 33.6
        var cpuCap = PolicyT.Default with { Filters = [new Rules.MaxHostCpuFilter(90), new Rules.ExcludeHostsFilter(Set("hv-b"))] };
        var g = Guest("g") with { Usage = new UsageHistory([500], [], []) };
        Admitted(busy, g, "hv-a", cpuCap);
        Assert.Contains("would use 95.8% CPU with the guest; policy allows 90%", Rejected(busy, g with { Usage = new UsageHistory([3200], [], []) }, "hv-a", "max-host-cpu", cpuCap));
        Assert.Equal("policy excludes host hv-b", Rejected(busy, g, "hv-b", "exclude-hosts", cpuCap));
        // ...but the mandatory ones still apply under a policy with filters.
        Rejected(fleet, Guest("g") with { Cpu = GuestCpu.Named("EPYC") }, "hv-a", "cpu-model", policy);
    }
}
