using KvmCluster.Hosting.Drivers.Qemu;
using KvmCluster.Policies.Model;

namespace KvmCluster.Silo.Tests;

/// <summary>The spec → QEMU argv translation and the migration endpoint a source accepts, without running QEMU.</summary>
public sealed class QemuCommandLineTests
{
    private static readonly GuestFiles Files = GuestFiles.For("/var/lib/kvmcluster/qemu", "db-1");

    private static IReadOnlyList<string> Argv(Guest guest, bool incoming = false) =>
        QemuCommandLine.For(guest, new QemuOptions(), "tcg", Files, null, incoming);

    private static Guest Vm(params GuestDisk[] disks) => new() { Name = "db-1", VCpus = 2, MemoryMiB = 512, Disks = [.. disks] };

    /// <summary>The value following each occurrence of an option.</summary>
    private static List<string> Values(IReadOnlyList<string> argv, string option) =>
        [.. argv.Select((a, i) => (a, i)).Where(x => x.a == option).Select(x => argv[x.i + 1])];

    [Fact]
    public void Local_and_overlay_disks_are_this_hosts_images_and_shared_disks_the_operators_file()
    {
        var argv = Argv(Vm(new GuestDisk(DiskKind.Shared, "/mnt/vm", Image: "/mnt/vm/a,b.qcow2"),
            new GuestDisk(DiskKind.Overlay, Image: "/var/lib/kvmcluster/images/base.qcow2"), new GuestDisk(DiskKind.Local, SizeGiB: 4)));
        var drives = Values(argv, "-drive");
        Assert.Equal(3, drives.Count);
        Assert.StartsWith("file=/mnt/vm/a,,b.qcow2,if=none,id=disk0,node-name=nd-disk0,", drives[0]); // the comma doubled
        Assert.StartsWith("file=/var/lib/kvmcluster/qemu/db-1.disk1.qcow2,if=none,id=disk1,node-name=nd-disk1,", drives[1]);
        Assert.StartsWith("file=/var/lib/kvmcluster/qemu/db-1.disk2.qcow2,", drives[2]);
        Assert.All(drives, d => Assert.Contains(",discard=unmap,", d));
        Assert.Contains("virtio-blk-pci,drive=disk2,id=vd2", Values(argv, "-device"));
        Assert.DoesNotContain("-S", argv);
    }

    [Fact]
    public void Every_incoming_copy_starts_paused_and_a_launched_guest_does_not()
    {
        var withDisk = Argv(Vm(new GuestDisk(DiskKind.Local, SizeGiB: 1)), incoming: true);
        Assert.Equal("defer", Values(withDisk, "-incoming").Single());
        Assert.Contains("-S", withDisk);
        // Memory only: paused too, until the migration's decision resumes it.
        Assert.Contains("-S", Argv(Vm(new GuestDisk(DiskKind.Shared, "/mnt/vm", Image: "/mnt/vm/a.qcow2")), incoming: true));
        Assert.DoesNotContain("-S", Argv(Vm(new GuestDisk(DiskKind.Shared, "/mnt/vm", Image: "/mnt/vm/a.qcow2")), incoming: false));
    }

    [Fact]
    public void A_distribution_kernel_boots_with_its_initramfs_and_a_disk_guest_through_the_firmware_in_its_boot_order()
    {
        var kernel = Argv(Vm() with { Boot = new GuestBoot("/srv/boot/vmlinuz-6.1", "console=ttyS0 quiet") { Initrd = "/srv/boot/initrd.img-6.1" } });
        Assert.Equal("/srv/boot/vmlinuz-6.1", Values(kernel, "-kernel").Single());
        Assert.Equal("/srv/boot/initrd.img-6.1", Values(kernel, "-initrd").Single());
        Assert.Equal("console=ttyS0 quiet", Values(kernel, "-append").Single());
        Assert.DoesNotContain(Values(kernel, "-device"), d => d.Contains("bootindex", StringComparison.Ordinal));

        // No kernel: SeaBIOS boots the devices in the spec's order (CD-ROM first, then the disk), by bootindex.
        var firmware = Argv(Vm(new GuestDisk(DiskKind.Local, SizeGiB: 4)) with { Cdrom = "/srv/iso/debian-12.iso", Nics = 1, Boot = new GuestBoot { Order = "dcn" } });
        Assert.Empty(Values(firmware, "-kernel"));
        var devices = Values(firmware, "-device");
        Assert.Contains("ide-cd,drive=cd0,id=cdrom0,bootindex=1", devices);
        Assert.Contains("virtio-blk-pci,drive=disk0,id=vd0,bootindex=2", devices);
        Assert.Contains("virtio-net-pci,netdev=net0,id=nic0,bootindex=3", devices);
        Assert.Contains("file=/srv/iso/debian-12.iso,if=none,id=cd0,media=cdrom,readonly=on,format=raw", Values(firmware, "-drive"));
        // The default is the first disk.
        Assert.Contains("virtio-blk-pci,drive=disk0,id=vd0,bootindex=1", Values(Argv(Vm(new GuestDisk(DiskKind.Local, SizeGiB: 4))), "-device"));
    }

    [Fact]
    public void A_pinned_machine_type_is_the_one_QEMU_runs_and_an_unpinned_guest_gets_the_configured_one()
    {
        Assert.Equal("pc-q35-7.2", Values(Argv(Vm() with { Machine = "pc-q35-7.2" }), "-machine").Single());
        Assert.Equal("q35", Values(Argv(Vm()), "-machine").Single());
    }

    [Fact]
    public void Every_guest_has_a_pvpanic_device_whose_panic_ends_it_and_a_guest_may_start_paused()
    {
        var argv = Argv(Vm());
        Assert.Contains("pvpanic", Values(argv, "-device"));
        Assert.Equal("panic=shutdown,shutdown=poweroff", Values(argv, "-action").Single());
        Assert.DoesNotContain("-S", argv);
        Assert.Contains("-S", Argv(Vm() with { Paused = true }));
    }

    [Theory]
    [InlineData("""{"kernel":"vmlinuz"}""", "boot.kernel")]
    [InlineData("""{"kernel":"/boot/vmlinuz","initrd":"/boot/../etc/shadow"}""", "boot.initrd")]
    [InlineData("""{"initrd":"/boot/initrd.img"}""", "boot.initrd")]
    [InlineData("""{"append":"console=ttyS0"}""", "boot.append")]
    [InlineData("""{"kernel":"/boot/vmlinuz","append":"init=/bin/sh;reboot"}""", "boot.append")]
    [InlineData("""{"order":"x"}""", "boot.order")]
    [InlineData("""{"order":"cdc"}""", "boot.order")]
    [InlineData("""{"order":"cdnn"}""", "boot.order")]
    [InlineData("""{"kernel":"/boot/vmlinuz","order":"c"}""", "boot.order")]
    [InlineData("""{"order":"d"}""", "boot.order")] // no CD-ROM to boot from
    public void A_malformed_boot_section_is_refused_naming_the_field_and_never_reaches_QEMU(string boot, string field)
    {
        var spec = System.Text.Json.JsonSerializer.Deserialize<GuestBoot>(boot, KvmCluster.Grains.Serialization.PolicyTypesSerialization.Options)!;
        var guest = Vm() with { Boot = spec };
        Assert.Contains(guest.Problems(), p => p.Field == field);
        Assert.Throws<ArgumentException>(() => Argv(guest));
    }

    [Theory]
    [InlineData("relative.qcow2")]
    [InlineData("/mnt/vm/../../etc/shadow")]
    [InlineData(null)]
    public void A_shared_disk_needs_an_absolute_image_path(string? image)
    {
        var e = Assert.Throws<ArgumentException>(() => Argv(Vm(new GuestDisk(DiskKind.Shared, "/mnt/vm", Image: image))));
        Assert.Contains("disks[0]", e.Message);
    }

    [Theory]
    [InlineData("tcp:127.0.0.1:4444", "127.0.0.1", 4444, null, 0)]
    [InlineData("tcp:hv-2.example:49152 nbd:hv-2.example:10809", "hv-2.example", 49152, "hv-2.example", 10809)]
    [InlineData("tcp:[fd00::2]:4444 nbd:[fd00::2]:10809", "[fd00::2]", 4444, "[fd00::2]", 10809)]
    public void Endpoints_parse(string text, string host, int port, string? nbdHost, int nbdPort)
    {
        var e = QemuMigrationEndpoint.Parse(text);
        Assert.Equal(new QemuMigrationEndpoint(host, port, nbdHost, nbdPort), e);
        Assert.Equal(text, e!.ToString());
    }

    [Theory]
    [InlineData("exec:rm -rf /")]
    [InlineData("tcp:127.0.0.1:4444,server=on")]
    [InlineData("tcp:127.0.0.1:0")]
    [InlineData("tcp:127.0.0.1:70000")]
    [InlineData("tcp:127.0.0.1:4444 nbd:127.0.0.1:10809:exportname=x")]
    [InlineData("tcp:127.0.0.1:4444\nnbd:127.0.0.1:10809")]
    public void Anything_else_is_not_an_endpoint(string text) => Assert.Null(QemuMigrationEndpoint.Parse(text));

    [Fact]
    public void The_nbd_uri_names_one_export() =>
        Assert.Equal("nbd:10.0.0.2:10809:exportname=disk1", new QemuMigrationEndpoint("10.0.0.2", 4444, "10.0.0.2", 10809).Nbd("disk1"));
}
