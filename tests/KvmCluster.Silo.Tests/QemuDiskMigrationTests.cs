using System.Text;
using System.Text.Json;
using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Model;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// Guests with local and overlay disks on real QEMU, moved through the cluster: the disks are copied to the
/// destination (drive-mirror over NBD) while the guest runs and writes to them.
/// </summary>
[Collection("qemu")]
public sealed class QemuDiskMigrationTests
{
    private const long MiB = 1024 * 1024;

    /// <summary>The test guest writing "heartbeat N" to sector N of every disk, after filling <paramref name="fill"/> MiB at 32 MiB.</summary>
    private static Guest DiskVm(string name, int fill, params GuestDisk[] disks) => new()
    {
        Name = name,
        VCpus = 1,
        MemoryMiB = 128,
        Disks = [.. disks],
        Boot = new GuestBoot(TestGuest.Kernel, $"buf=16 rate=5 seed=1 disk=1 fill={fill}"),
    };

    [Fact]
    public async Task Overlay_and_local_disks_move_with_a_live_guest_and_keep_every_write()
    {
        await using var fleet = await TwoQemuHypervisors.StartAsync();
        // A backing image both hypervisors have at the same path, with data of its own at 48 MiB.
        var baseImage = Path.Combine(fleet.Images, "debian-base.qcow2");
        await Run("qemu-img", "create", "-q", "-f", "qcow2", baseImage, "64M");
        await Run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 48M 16M", baseImage);
        await Task.WhenAll(fleet.Host("hv-0").Refresh(), fleet.Host("hv-1").Refresh());
        await fleet.ActivatePolicy("name: copy-disks\nmigration:\n  allowBlockMigration: true\n  bandwidthMiBps: 64\n");

        var placed = await fleet.Scheduler.Place(DiskVm("files-1", 8, new GuestDisk(DiskKind.Overlay, Image: baseImage), new GuestDisk(DiskKind.Local, SizeGiB: 1)));
        var from = placed.Host!;
        var to = from == "hv-0" ? "hv-1" : "hv-0";
        await fleet.Heartbeat(from, "files-1", 2);

        var started = await fleet.Scheduler.Migrate("files-1", to, false);
        var ended = await ThreeHypervisors.Eventually(() => fleet.Client.GetGrain<IMigrationGrain>(started.Id).Get(),
            m => m!.Status is MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled, TimeSpan.FromSeconds(60));
        Assert.True(ended!.Status == MigrationStatus.Completed, ended.Reason);
        var lastOnSource = TestGuest.LastHeartbeat(fleet.Serial(from, "files-1"));
        var beats = await fleet.Heartbeat(to, "files-1", lastOnSource + 1);

        // Every heartbeat the guest printed is on both disks, in order: the ones written on the source came over
        // with the copy, the ones since were written on the destination.
        foreach (var index in new[] { 0, 1 })
        {
            using var disk = await GuestView.ReadAsync(fleet.Disk(to, "files-1", index));
            disk.AssertHeartbeats(beats);
            Assert.True(disk.Read(32 * MiB, 65536).SequenceEqual(Fill(1, 65536)), $"disk{index}: the guest's 8 MiB fill did not arrive");
            // The overlay's destination reads the backing image's own data from its local copy.
            if (index == 0) Assert.All(disk.Read(48 * MiB, (int)(16 * MiB)), b => Assert.Equal(0x5a, b));
        }
        Assert.True(await AllocatedMiB(fleet.Disk(to, "files-1", 0)) < 14, "the destination's overlay holds more than the guest wrote: the backing image was copied");
        Assert.False(File.Exists(fleet.Disk(from, "files-1", 0)));
        Assert.False(File.Exists(fleet.Disk(from, "files-1", 1)));
        // The host reports what each disk holds (about the 8 MiB fill): the planner prices the next move with it.
        var reported = (await fleet.Host(to).Refresh()).Guests.Single();
        Assert.Equal("files-1", reported.Name);
        Assert.All(reported.Disks, d => Assert.InRange(d.UsedMiB, 8, 13));
    }

    [Fact]
    public async Task An_offline_migration_moves_a_guest_whose_local_disk_the_policy_will_not_copy_live_with_its_memory_and_every_write()
    {
        await using var fleet = await TwoQemuHypervisors.StartAsync();
        var placed = await fleet.Scheduler.Place(DiskVm("cold-1", 4, new GuestDisk(DiskKind.Local, SizeGiB: 1)));
        var from = placed.Host!;
        var to = from == "hv-0" ? "hv-1" : "hv-0";
        await fleet.Heartbeat(from, "cold-1", 2);

        // Live, the default policy does not copy local disks; offline it may: the guest is paused, nothing dirties them.
        await Assert.ThrowsAsync<ClusterException>(() => fleet.Scheduler.Migrate("cold-1", to, false));
        var started = await fleet.Scheduler.MigrateOffline("cold-1", to);
        Assert.True(started.Order.Offline && started.Order.ResumeAfter);
        Assert.Contains(started.Order.Reasons, r => r.Contains("predicted downtime", StringComparison.Ordinal));
        var ended = await ThreeHypervisors.Eventually(() => fleet.Client.GetGrain<IMigrationGrain>(started.Id).Get(),
            m => m!.Status is MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled, TimeSpan.FromSeconds(90));
        Assert.True(ended!.Status == MigrationStatus.Completed, ended.Reason);

        // It runs on the destination again, its memory intact (the heartbeat counter goes on from where it stopped)
        // and every record it wrote to its disk there; the source's image is gone.
        var lastOnSource = TestGuest.LastHeartbeat(fleet.Serial(from, "cold-1"));
        var beats = await fleet.Heartbeat(to, "cold-1", lastOnSource + 1);
        Assert.Equal("running", (await fleet.Host(to).Control("cold-1", new GuestControl(GuestAction.Status))).RunState);
        using (var disk = await GuestView.ReadAsync(fleet.Disk(to, "cold-1", 0))) disk.AssertHeartbeats(beats);
        Assert.False(File.Exists(fleet.Disk(from, "cold-1", 0)));
        await ThreeHypervisors.Eventually(() => fleet.Scheduler.Guests(), gs => gs.Single(g => g.Name == "cold-1") is { Host: var h, Status: GuestStatus.Running } && h == to);

        // A copy that fails leaves it running on its source with its disk: back from hv-x to hv-y at 4 MiB/s, the
        // destination QEMU killed mid-copy.
        await fleet.ActivatePolicy("name: slow-copy\nmigration:\n  bandwidthMiBps: 4\n");
        var back = await fleet.Scheduler.MigrateOffline("cold-1", from);
        var moving = fleet.Client.GetGrain<IMigrationGrain>(back.Id);
        await ThreeHypervisors.Eventually(() => moving.Get(), m => m!.Progress is { TransferredMiB: >= 2 } || m.Status != MigrationStatus.Migrating && m.Status != MigrationStatus.Reserved && m.Status != MigrationStatus.Created);
        var pid = int.Parse((await File.ReadAllTextAsync(fleet.PidFile(from, "cold-1"))).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        System.Diagnostics.Process.GetProcessById(pid).Kill();
        var failed = await ThreeHypervisors.Eventually(() => moving.Get(), m => m!.Status is MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled, TimeSpan.FromSeconds(60));
        Assert.Equal(MigrationStatus.Failed, failed!.Status);
        await fleet.Heartbeat(to, "cold-1", TestGuest.LastHeartbeat(fleet.Serial(to, "cold-1"))); // running again, writing its disk
        Assert.True(File.Exists(fleet.Disk(to, "cold-1", 0)));

        // An unknown destination is refused before anything is paused.
        var unknown = await Assert.ThrowsAsync<ClusterException>(() => fleet.Scheduler.MigrateOffline("cold-1", "hv-9"));
        Assert.Equal(ProblemKind.NotFound, unknown.Kind);
        Assert.Equal("running", (await fleet.Host(to).Control("cold-1", new GuestControl(GuestAction.Status))).RunState);
    }

    [Fact]
    public async Task A_plan_evacuates_offline_a_guest_it_cannot_move_live_when_the_policy_allows_offline_moves()
    {
        await using var fleet = await TwoQemuHypervisors.StartAsync();
        await fleet.ActivatePolicy("name: cold-plans\nmigration:\n  allowOffline: true\n");
        var from = (await fleet.Scheduler.Place(DiskVm("cold-2", 4, new GuestDisk(DiskKind.Local, SizeGiB: 1)))).Host!;
        var to = from == "hv-0" ? "hv-1" : "hv-0";
        await fleet.Heartbeat(from, "cold-2", 2);
        await fleet.Scheduler.SetMaintenance(from, true);

        var plan = await fleet.Scheduler.Preview();
        var move = Assert.Single(plan.Moves);
        Assert.True(move.Offline);
        Assert.Contains(move.Reasons, r => r.StartsWith("offline: paused for the whole move", StringComparison.Ordinal));
        await fleet.Scheduler.Execute(plan.Id);
        var done = await ThreeHypervisors.Eventually(() => fleet.Scheduler.Plan(plan.Id), p => p.State is "SUCCEEDED" or "FAILED", TimeSpan.FromSeconds(120));
        Assert.True(done.State == "SUCCEEDED", done.Failure);

        // Moved with its memory and disk, and running again on the destination.
        var beats = await fleet.Heartbeat(to, "cold-2", TestGuest.LastHeartbeat(fleet.Serial(from, "cold-2")) + 1);
        Assert.Equal("running", (await fleet.Host(to).Control("cold-2", new GuestControl(GuestAction.Status))).RunState);
        using (var disk = await GuestView.ReadAsync(fleet.Disk(to, "cold-2", 0))) disk.AssertHeartbeats(beats);
    }

    [Fact]
    public async Task A_disk_copy_that_fails_leaves_the_guest_and_its_disk_on_the_source_and_a_retry_succeeds()
    {
        await using var fleet = await TwoQemuHypervisors.StartAsync();
        var placed = await fleet.Scheduler.Place(DiskVm("files-2", 24, new GuestDisk(DiskKind.Local, SizeGiB: 1)));
        var from = placed.Host!;
        var to = from == "hv-0" ? "hv-1" : "hv-0";
        await fleet.Heartbeat(from, "files-2", 1);

        // The default policy does not move local disks.
        var refused = await Assert.ThrowsAsync<ClusterException>(() => fleet.Scheduler.Migrate("files-2", to, false));
        Assert.Contains("block migration", refused.Message);

        // 24 MiB at 4 MiB/s: the copy runs for seconds, then the destination QEMU dies.
        await fleet.ActivatePolicy("name: slow-copy\nmigration:\n  allowBlockMigration: true\n  bandwidthMiBps: 4\n");
        var started = await fleet.Scheduler.Migrate("files-2", to, false);
        var migration = fleet.Client.GetGrain<IMigrationGrain>(started.Id);
        await ThreeHypervisors.Eventually(() => migration.Get(), m => m!.Progress is { CopyingDisks: true, TransferredMiB: >= 2 });
        var pid = int.Parse((await File.ReadAllTextAsync(fleet.PidFile(to, "files-2"))).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        System.Diagnostics.Process.GetProcessById(pid).Kill();

        var ended = await ThreeHypervisors.Eventually(() => migration.Get(), m => m!.Status is MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled);
        Assert.Equal(MigrationStatus.Failed, ended!.Status);
        var beat = TestGuest.LastHeartbeat(fleet.Serial(from, "files-2"));
        await fleet.Heartbeat(from, "files-2", beat); // still running, still writing its disk
        Assert.True(File.Exists(fleet.Disk(from, "files-2", 0)));
        await ThreeHypervisors.Eventually(() => Task.FromResult(File.Exists(fleet.Disk(to, "files-2", 0))), exists => !exists);
        Assert.Empty((await fleet.Host(to).Refresh()).Guests);

        // The source's QEMU is ready for another attempt (its copy jobs are gone).
        await fleet.ActivatePolicy("name: fast-copy\nmigration:\n  allowBlockMigration: true\n");
        var retry = await fleet.Scheduler.Migrate("files-2", to, false);
        var done = await ThreeHypervisors.Eventually(() => fleet.Client.GetGrain<IMigrationGrain>(retry.Id).Get(),
            m => m!.Status is MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled, TimeSpan.FromSeconds(60));
        Assert.True(done!.Status == MigrationStatus.Completed, done.Reason);
        var beats = await fleet.Heartbeat(to, "files-2", TestGuest.LastHeartbeat(fleet.Serial(from, "files-2")));
        using var disk = await GuestView.ReadAsync(fleet.Disk(to, "files-2", 0));
        disk.AssertHeartbeats(beats);
    }

    /// <summary>The guest's fill data: its LCG from the seed, little-endian words.</summary>
    private static byte[] Fill(uint seed, int bytes)
    {
        var data = new byte[bytes];
        var x = unchecked(seed * 40503u + 7);
        for (var i = 0; i < bytes; i += 4)
        {
            x = unchecked(x * 1664525u + 1013904223u);
            BitConverter.TryWriteBytes(data.AsSpan(i), x);
        }
        return data;
    }

    /// <summary>A disk as the guest sees it (through its backing image), copied while QEMU has it open (sparse).</summary>
    private sealed class GuestView : IDisposable
    {
        private readonly string _raw = Path.Combine(Path.GetTempPath(), $"kvc-disk-{Guid.NewGuid():N}.raw");

        public static async Task<GuestView> ReadAsync(string image)
        {
            var view = new GuestView();
            await Run("qemu-img", "convert", "-U", "-O", "raw", image, view._raw);
            return view;
        }

        public byte[] Read(long offset, int count)
        {
            using var file = File.OpenRead(_raw);
            var data = new byte[count];
            file.Position = offset;
            file.ReadExactly(data);
            return data;
        }

        public void AssertHeartbeats(int beats)
        {
            Assert.True(beats > 0);
            for (var beat = 1; beat <= beats; beat++)
            {
                var expected = $"heartbeat {beat}\n";
                Assert.Equal(expected, Encoding.ASCII.GetString(Read(beat * 512L, expected.Length)));
            }
        }

        public void Dispose() => File.Delete(_raw);
    }

    private static async Task<double> AllocatedMiB(string image)
    {
        using var info = new ExternalProcess("qemu-img", ["info", "-U", "--output=json", image]);
        Assert.Equal(0, await info.WaitAsync(TimeSpan.FromSeconds(30)));
        using var json = JsonDocument.Parse(info.Output);
        return json.RootElement.GetProperty("actual-size").GetInt64() / (double)MiB;
    }

    private static async Task Run(string program, params string[] args)
    {
        using var p = new ExternalProcess(program, args);
        Assert.True(await p.WaitAsync(TimeSpan.FromSeconds(60)) == 0, $"{program} {string.Join(' ', args)}: {p.Output}");
    }
}
