using KvmCluster.Grains.Contracts;
using KvmCluster.Hosting.Drivers.Qemu;
using KvmCluster.Hosting.Facts;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// VFIO passthrough and SR-IOV on a fixture sysfs tree (no such device exists on this machine kind): the inventory
/// from /sys/bus/pci/devices, VF allocation across guests, refusal when none are free, binding to vfio-pci, the argv
/// — and real QEMU refusing a device that is not there, in its own words.
/// </summary>
[Collection("qemu")]
public sealed class PassthroughTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("kvmcluster-sysfs-");

    public PassthroughTests()
    {
        // A GPU in IOMMU group 12 (on nouveau), a NIC that is a PF with 4 VFs (two in groups), a USB controller (not offered).
        Device("0000:3b:00.0", "0x10de", "0x1db6", "0x030200", driver: "nouveau", group: "12");
        Device("0000:3c:00.0", "0x10de", "0x1db6", "0x030200", driver: "vfio-pci", group: "13");
        Device("0000:5e:00.0", "0x8086", "0x1572", "0x020000", driver: "i40e", group: "20", totalVfs: 4);
        for (var vf = 0; vf < 4; vf++)
        {
            var address = $"0000:5e:02.{vf}";
            Device(address, "0x8086", "0x154c", "0x020000", driver: null, group: vf < 3 ? $"{30 + vf}" : null, physfn: "0000:5e:00.0");
            File.CreateSymbolicLink(Path.Combine(Dir("0000:5e:00.0"), $"virtfn{vf}"), $"../{address}");
        }
        Device("0000:00:14.0", "0x8086", "0xa36d", "0x0c0330", driver: "xhci_hcd", group: "5");
        File.WriteAllText(Path.Combine(_root.FullName, "sys/bus/pci/drivers_probe"), "");
    }

    private string Dir(string address) => Path.Combine(_root.FullName, "sys/bus/pci/devices", address);

    private void Device(string address, string vendor, string device, string cls, string? driver, string? group, int? totalVfs = null, string? physfn = null)
    {
        var dir = Directory.CreateDirectory(Dir(address)).FullName;
        File.WriteAllText(Path.Combine(dir, "vendor"), vendor + "\n");
        File.WriteAllText(Path.Combine(dir, "device"), device + "\n");
        File.WriteAllText(Path.Combine(dir, "class"), cls + "\n");
        File.WriteAllText(Path.Combine(dir, "driver_override"), "(null)\n");
        if (driver is not null)
        {
            var drv = Directory.CreateDirectory(Path.Combine(_root.FullName, "sys/bus/pci/drivers", driver)).FullName;
            File.WriteAllText(Path.Combine(drv, "unbind"), "");
            File.CreateSymbolicLink(Path.Combine(dir, "driver"), drv);
        }
        if (group is not null) File.CreateSymbolicLink(Path.Combine(dir, "iommu_group"), Directory.CreateDirectory(Path.Combine(_root.FullName, "sys/kernel/iommu_groups", group)).FullName);
        if (totalVfs is { } n) { File.WriteAllText(Path.Combine(dir, "sriov_totalvfs"), $"{n}\n"); File.WriteAllText(Path.Combine(dir, "sriov_numvfs"), $"{n}\n"); }
        if (physfn is not null) File.CreateSymbolicLink(Path.Combine(dir, "physfn"), $"../{physfn}");
    }

    public void Dispose() => _root.Delete(recursive: true);

    [Fact]
    public void The_inventory_reads_vendor_device_class_driver_IOMMU_group_and_SR_IOV_functions_from_sysfs()
    {
        var all = PciInventory.Read(_root.FullName);
        Assert.Equal(8, all.Count);
        var gpu = all.Single(d => d.Address == "0000:3b:00.0");
        Assert.Equal(("10de:1db6", "030200", "nouveau", "12"), (gpu.VendorDevice, gpu.Class, gpu.Driver, gpu.IommuGroup));
        var pf = all.Single(d => d.Address == "0000:5e:00.0");
        Assert.Equal((4, 4), (pf.TotalVfs, pf.NumVfs));
        Assert.Equal(["0000:5e:02.0", "0000:5e:02.1", "0000:5e:02.2", "0000:5e:02.3"], pf.VirtualFunctions.ToList());
        Assert.Equal("0000:5e:00.0", all.Single(d => d.Address == "0000:5e:02.1").PhysicalFunction);

        // Offered: what the operator configured, in an IOMMU group; the PF's VFs on its network (the one without a group is not usable).
        var vfs = new List<(string Address, string Network)>();
        var (devices, sriov) = PciInventory.Facts(all, ["10de:1db6"], new Dictionary<string, string> { ["0000:5e:00.0"] = "prod" },
            new Dictionary<string, string> { ["0000:3c:00.0"] = "gpu-1", ["0000:5e:02.0"] = "net-1" }, vfs);
        Assert.Equal(["0000:3b:00.0", "0000:3c:00.0"], devices.Select(d => d.Address));
        Assert.Equal("gpu-1", devices.Single(d => d.Address == "0000:3c:00.0").AssignedTo);
        Assert.Equal(new SriovFunction("0000:5e:00.0", "prod", 4, 2), Assert.Single(sriov));
        Assert.Equal(3, vfs.Count);
    }

    [Fact]
    public void VFs_are_allocated_across_guests_never_twice_and_a_guest_is_refused_when_none_are_free()
    {
        var vfs = new List<(string Address, string Network)>();
        var (devices, _) = PciInventory.Facts(PciInventory.Read(_root.FullName), ["10de:1db6"], new Dictionary<string, string> { ["0000:5e:00.0"] = "prod" },
            new Dictionary<string, string>(), vfs);
        var taken = new HashSet<string>(StringComparer.Ordinal);
        var first = DeviceAllocation.For(new Guest { Name = "a", VCpus = 1, MemoryMiB = 64, SriovVfs = 2, SriovNetwork = "prod", PciDevices = ["10de:1db6"] }, devices, vfs, taken);
        Assert.Null(first.Problem);
        Assert.Equal(["0000:3b:00.0", "0000:5e:02.0", "0000:5e:02.1"], first.Addresses.ToList());
        taken.UnionWith(first.Addresses);
        var second = DeviceAllocation.For(new Guest { Name = "b", VCpus = 1, MemoryMiB = 64, SriovVfs = 1 }, devices, vfs, taken);
        Assert.Equal(["0000:5e:02.2"], second.Addresses.ToList());
        taken.UnionWith(second.Addresses);
        var none = DeviceAllocation.For(new Guest { Name = "c", VCpus = 1, MemoryMiB = 64, SriovVfs = 1, SriovNetwork = "prod" }, devices, vfs, taken);
        Assert.Equal("1 VF(s) on prod wanted, 0 free", none.Problem);
        Assert.Equal("2 × 10de:1db6 wanted, 1 free", DeviceAllocation.For(new Guest { Name = "d", VCpus = 1, MemoryMiB = 64, PciDevices = ["10de:1db6", "10de:1db6"] }, devices, vfs, taken).Problem);
    }

    [Fact]
    public async Task An_assigned_device_is_bound_to_vfio_pci_through_driver_override_unbind_and_drivers_probe()
    {
        await VfioBinding.BindAsync(_root.FullName, "0000:3b:00.0");
        Assert.Equal("vfio-pci", File.ReadAllText(Path.Combine(Dir("0000:3b:00.0"), "driver_override")));
        Assert.Equal("0000:3b:00.0", File.ReadAllText(Path.Combine(_root.FullName, "sys/bus/pci/drivers/nouveau/unbind")));
        Assert.Equal("0000:3b:00.0", File.ReadAllText(Path.Combine(_root.FullName, "sys/bus/pci/drivers_probe")));
        await Assert.ThrowsAsync<ClusterException>(() => VfioBinding.BindAsync(_root.FullName, "0000:99:00.0"));
    }

    [Fact]
    public async Task The_assigned_device_reaches_QEMUs_command_line_and_QEMU_refusing_it_here_is_reported_in_its_words()
    {
        var options = new QemuOptions { Binary = TestGuest.Qemu, Accel = "tcg", StopGuestsOnShutdown = true, SysfsRoot = _root.FullName, Passthrough = ["10de:1db6"] };
        await using var host = new QemuHypervisor("hv-gpu", options, Path.Combine(_root.FullName, "state"), NullLogger.Instance);
        var (facts, problem) = await host.DiscoverAsync(CancellationToken.None);
        Assert.Null(problem);
        Assert.Equal(["0000:3b:00.0", "0000:3c:00.0"], facts.PciDevices.Select(d => d.Address));
        var guest = new Guest { Name = "gpu-1", VCpus = 1, MemoryMiB = 64, PciDevices = ["10de:1db6"], Boot = new GuestBoot(TestGuest.Kernel, "buf=4 rate=1 seed=1") };
        var argv = QemuCommandLine.For(guest with { HostDevices = ["0000:3b:00.0"] }, options, "tcg", GuestFiles.For("/tmp", "gpu-1"), null, incoming: false);
        Assert.Contains("vfio-pci,host=0000:3b:00.0,id=hostdev0", argv);
        // No such device on this machine: QEMU says so, and the cluster passes its words on; nothing stays assigned.
        var refused = await Assert.ThrowsAsync<ClusterException>(() => host.LaunchAsync(guest, CancellationToken.None));
        Assert.Contains("vfio", refused.Detail);
        Assert.Contains("0000:3b:00.0", refused.Detail);
        Assert.Empty(await host.InventoryAsync(CancellationToken.None));
        Assert.All((await host.DiscoverAsync(CancellationToken.None)).Facts.PciDevices, d => Assert.True(d.IsFree));

        // Hot-plug: a running guest asks for one by id; its host picks a free one and QEMU's device_add is asked for
        // it — refused here in QEMU's words, and the guest holds nothing afterwards.
        Assert.Contains(new GuestControl(GuestAction.DeviceAdd, Name: "gpu0", Driver: "vfio-pci").Problems(), p => p.Field == "pci");
        Assert.Contains(new GuestControl(GuestAction.DeviceAdd, Name: "nic0", Driver: "virtio-net-pci", Pci: "10de:1db6").Problems(), p => p.Field == "pci");
        await host.LaunchAsync(guest with { Name = "plain-1", PciDevices = [] }, CancellationToken.None);
        var hotplug = await Assert.ThrowsAsync<ClusterException>(() => host.ControlAsync("plain-1", new GuestControl(GuestAction.DeviceAdd, Name: "gpu0", Driver: "vfio-pci", Pci: "10de:1db6"), CancellationToken.None));
        Assert.Contains("vfio", hotplug.Detail);
        var after = Assert.Single(await host.InventoryAsync(CancellationToken.None));
        Assert.Empty(after.HostDevices);
        Assert.Empty(after.Devices);
    }
}
