using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Guests;
using KvmCluster.Policies.Model;
using static KvmCluster.Silo.Tests.LinuxTestGuest;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// A real Linux guest (a Debian kernel with a busybox initramfs, <see cref="LinuxTestGuest"/>) through a two-host
/// QEMU cluster: its whole life cycle, and the guest's own drivers doing what the cluster asks of them.
/// </summary>
[Collection("qemu")]
public sealed class LinuxGuestTests
{
    private static Guest Linux(string name, string append = "console=ttyS0 quiet") => new()
    {
        Name = name,
        VCpus = 1,
        MemoryMiB = 256,
        Nics = 1,
        Boot = new GuestBoot(Kernel, append) { Initrd = Initrd },
    };

    private static readonly TimeSpan Boot = TimeSpan.FromSeconds(120);

    /// <summary>A running QEMU's argv as the kernel has it (/proc/PID/cmdline), joined by spaces.</summary>
    private static string QemuCommandLineOf(string pidFile) =>
        File.ReadAllText($"/proc/{File.ReadAllText(pidFile).Trim()}/cmdline").Replace('\0', ' ');

    [Fact]
    public async Task A_Debian_guest_is_defined_started_ballooned_migrated_hot_plugged_kept_paused_shut_down_by_ACPI_started_again_and_noticed_when_it_panics()
    {
        _ = (Kernel, Initrd); // built (and downloaded) before the cluster starts
        await using var fleet = await TwoQemuHypervisors.StartAsync();
        var scheduler = fleet.Scheduler;
        var events = fleet.Client.GetGrain<IEventLogGrain>(Cluster.Key);
        string Other(string h) => h == "hv-0" ? "hv-1" : "hv-0";
        async Task<GuestView> Record() => (await fleet.Client.GetGrain<IGuestGrain>("deb-1").Get())!;
        async Task<Beat> BeatOn(string host, Func<Beat, bool>? done = null, TimeSpan? within = null) =>
            (await ThreeHypervisors.Eventually(() => Task.FromResult(LastBeat(fleet.Serial(host, "deb-1"))), b => b is not null && (done?.Invoke(b) ?? true), within ?? Boot))!;
        async Task Migrate(string to)
        {
            var started = await scheduler.Migrate("deb-1", to, false);
            var ended = await ThreeHypervisors.Eventually(() => fleet.Client.GetGrain<IMigrationGrain>(started.Id).Get(),
                m => m!.Status is MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled, TimeSpan.FromSeconds(120));
            Assert.True(ended!.Status == MigrationStatus.Completed, $"migration to {to}: {ended.Status} {ended.Reason}");
        }

        // define: a record, nothing runs; start: placed, and the distribution kernel boots with its initramfs.
        Assert.Equal(GuestStatus.Defined, (await scheduler.DefineGuest(Linux("deb-1"))).Status);
        Assert.Empty((await fleet.Host("hv-0").Refresh()).Guests.Concat((await fleet.Host("hv-1").Refresh()).Guests));
        var first = (await scheduler.StartGuest("deb-1", null)).Host!;
        var booted = await BeatOn(first);
        Assert.True(Says(fleet.Serial(first, "deb-1"), "KVMTEST-READY"));
        Assert.Contains("eth0", booted.Interfaces); // Debian's virtio_net module drives the guest's NIC
        // Its machine type was pinned at this first launch to the versioned name QEMU gives q35, and recorded.
        var pinned = (await Record()).Spec.Machine;
        Assert.Matches(@"^pc-q35-\d+\.\d+$", pinned);
        Assert.Contains(pinned!, (await fleet.Host(first).Refresh()).Host.Qemu!.MachineTypes);

        // The monitor, for what the verbs do not cover: QEMU's own words, on record.
        Assert.Contains("VM status: running", await fleet.Host(first).Monitor("deb-1", "info status", "test-admin"));
        Assert.Contains(await events.Query("deb-1", "guest-monitor", 10), e => e.Message.Contains("by test-admin: info status", StringComparison.Ordinal));
        await Assert.ThrowsAsync<ClusterException>(() => fleet.Host(first).Monitor("deb-1", "info status\nquit", "test-admin"));

        // The Linux balloon driver gives memory back: QEMU's actual drops to the target.
        var control = fleet.Host(first);
        await control.Control("deb-1", new GuestControl(GuestAction.Balloon, 128));
        var ballooned = await ThreeHypervisors.Eventually(() => control.Control("deb-1", new GuestControl(GuestAction.Status)), r => r.BalloonActualMiB <= 130, TimeSpan.FromSeconds(60));
        Assert.InRange(ballooned.BalloonActualMiB!.Value, 100, 130);

        // Live migration: the counter goes on where it was, the tmpfs file's checksum is the same.
        var second = Other(first);
        var before = LastBeat(fleet.Serial(first, "deb-1"))!;
        await Migrate(second);
        var after = await BeatOn(second, b => b.Count > before.Count, TimeSpan.FromSeconds(60));
        Assert.Equal(before.Checksum, after.Checksum);
        Assert.Equal(second, (await Record()).Host);
        // The destination's QEMU runs the same pinned machine type.
        Assert.Contains($"pc-q35", QemuCommandLineOf(fleet.PidFile(second, "deb-1")));
        Assert.Contains(pinned!, QemuCommandLineOf(fleet.PidFile(second, "deb-1")));

        // A NIC hot-plugged into a PCIe slot: the Linux guest lists the new interface.
        await fleet.Host(second).Control("deb-1", new GuestControl(GuestAction.DeviceAdd, Name: "nic9", Driver: "virtio-net-pci"));
        var plugged = await BeatOn(second, b => b.Interfaces.Count > after.Interfaces.Count, TimeSpan.FromSeconds(60));
        Assert.Equal(after.Interfaces.Count + 1, plugged.Interfaces.Count);

        // Paused by an operator, it stays paused across a migration (as libvirt keeps it), and runs on when continued.
        await fleet.Host(second).Control("deb-1", new GuestControl(GuestAction.Stop));
        await ThreeHypervisors.Eventually(() => scheduler.Guests(), gs => gs.Single(g => g.Name == "deb-1").Status == GuestStatus.Paused);
        await Migrate(first);
        Assert.Equal("paused", (await fleet.Host(first).Control("deb-1", new GuestControl(GuestAction.Status))).RunState);
        var paused = LastBeat(fleet.Serial(first, "deb-1"))?.Count ?? 0;
        await Task.Delay(3000);
        Assert.Equal(paused, LastBeat(fleet.Serial(first, "deb-1"))?.Count ?? 0);
        Assert.Equal(GuestStatus.Paused, (await scheduler.Guests()).Single(g => g.Name == "deb-1").Status);
        await fleet.Host(first).Control("deb-1", new GuestControl(GuestAction.Cont));
        var resumed = await BeatOn(first, b => b.Count > Math.Max(paused, plugged.Count), TimeSpan.FromSeconds(60));
        Assert.Equal(before.Checksum, resumed.Checksum);
        Assert.Equal(plugged.Interfaces.Count, resumed.Interfaces.Count); // the hot-plugged NIC came along

        // ACPI shutdown: the guest hears the power button and powers itself off — shut off, never lost or failed.
        var down = await GuestShutdown.RunAsync(fleet.Client, "deb-1", TimeSpan.FromSeconds(90), force: false, CancellationToken.None);
        Assert.Equal(GuestStatus.ShutOff, down.Status);
        Assert.Equal(first, down.Host);
        Assert.True(Says(fleet.Serial(first, "deb-1"), "KVMTEST-POWEROFF"));
        Assert.Contains(await events.Query("deb-1", "guest-shut-off", 10), e => e.Message.Contains("powered itself off", StringComparison.Ordinal));
        Assert.Empty(await events.Query("deb-1", "guest-lost", 10));

        // Started again: a fresh boot (the hot-plugged NIC is part of its spec now), running.
        var again = (await scheduler.StartGuest("deb-1", null)).Host!;
        var reboot = await BeatOn(again, b => b.Count < 5 && b.Interfaces.Count == plugged.Interfaces.Count);
        Assert.Contains("eth0", reboot.Interfaces);
        Assert.Equal(GuestStatus.Running, (await Record()).Status);
        await Assert.ThrowsAsync<ClusterException>(() => scheduler.UndefineGuest("deb-1", removeDisks: false));

        // Destroyed, edited to panic three seconds after boot, started: pvpanic tells QEMU, the guest is crashed.
        Assert.Equal(GuestStatus.ShutOff, (await scheduler.DestroyGuest("deb-1")).Status);
        await scheduler.DefineGuest(Linux("deb-1", "console=ttyS0 quiet kvmtest.panic=3"));
        var crashedOn = (await scheduler.StartGuest("deb-1", null)).Host!;
        var crashed = await ThreeHypervisors.Eventually(Record, r => r.Status is GuestStatus.Crashed or GuestStatus.Lost, Boot);
        Assert.Equal(GuestStatus.Crashed, crashed.Status);
        Assert.Equal(crashedOn, crashed.Host);
        Assert.True(Says(fleet.Serial(crashedOn, "deb-1"), "Kernel panic"));
        Assert.NotEmpty(await events.Query("deb-1", "guest-crashed", 10));

        // Undefined: the record is gone.
        await scheduler.UndefineGuest("deb-1", removeDisks: true);
        Assert.Null(await fleet.Client.GetGrain<IGuestGrain>("deb-1").Get());
    }
}
