using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Model;

namespace KvmCluster.Silo.Tests;

/// <summary>Guests on real QEMU, placed and migrated through the cluster.</summary>
public sealed class QemuClusterTests
{
    private static Guest TestVm(string name, int buf = 32, int rate = 5) => new()
    {
        Name = name, VCpus = 1, MemoryMiB = 128,
        Boot = new GuestBoot(TestGuest.Kernel, $"buf={buf} rate={rate} seed=1"),
    };

    [Fact]
    public async Task A_guest_placed_through_the_cluster_live_migrates_and_keeps_its_heartbeat()
    {
        await using var fleet = await QemuHypervisors2.StartAsync();
        var placed = await fleet.Scheduler.Place(TestVm("web-1"));
        var from = placed.Host!;
        var to = from == "hv-0" ? "hv-1" : "hv-0";
        await fleet.Heartbeat(from, "web-1");

        var started = await fleet.Scheduler.Migrate("web-1", to);
        var migration = fleet.Client.GetGrain<IMigrationGrain>(started.Id);
        var ended = await ThreeHypervisors.Eventually(() => migration.Get(), m => m!.Status is MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled);
        Assert.Equal(MigrationStatus.Completed, ended!.Status);

        // The guest's memory (and its heartbeat counter) arrived: the destination continues where the source stopped.
        var lastOnSource = TestGuest.LastHeartbeat(fleet.Serial(from, "web-1"));
        var onDestination = await fleet.Heartbeat(to, "web-1", lastOnSource);
        Assert.True(onDestination > lastOnSource);
        Assert.Empty((await fleet.Host(from).Refresh()).Guests);
        Assert.Equal(["web-1"], (await fleet.Host(to).Refresh()).Guests.Select(g => g.Name));
        await ThreeHypervisors.Eventually(() => fleet.Scheduler.Guests(), gs => gs.Single(g => g.Name == "web-1").Host == to);
        var record = await fleet.Client.GetGrain<IGuestGrain>("web-1").Get();
        Assert.Equal(to, record!.Host);
    }

    [Fact]
    public async Task Killing_the_destination_QEMU_mid_migration_fails_it_and_the_guest_runs_on_at_its_source()
    {
        await using var fleet = await QemuHypervisors2.StartAsync();
        // 64 MiB dirtied at 50 MiB/s over an 8 MiB/s link: the transfer goes on until the destination dies.
        await fleet.ActivatePolicy("name: slow\nmigration:\n  bandwidthMiBps: 8\n");
        var placed = await fleet.Scheduler.Place(TestVm("db-1", buf: 64, rate: 50));
        var from = placed.Host!;
        var to = from == "hv-0" ? "hv-1" : "hv-0";
        await fleet.Heartbeat(from, "db-1");

        var started = await fleet.Scheduler.Migrate("db-1", to);
        var migration = fleet.Client.GetGrain<IMigrationGrain>(started.Id);
        await ThreeHypervisors.Eventually(() => migration.Get(), m => m!.Progress is { TransferredMiB: > 4 });
        var pid = int.Parse((await File.ReadAllTextAsync(fleet.PidFile(to, "db-1"))).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        System.Diagnostics.Process.GetProcessById(pid).Kill();

        var ended = await ThreeHypervisors.Eventually(() => migration.Get(), m => m!.Status is MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled);
        Assert.Equal(MigrationStatus.Failed, ended!.Status);
        var beat = TestGuest.LastHeartbeat(fleet.Serial(from, "db-1"));
        await fleet.Heartbeat(from, "db-1", beat); // still alive where it was
        Assert.Equal(["db-1"], (await fleet.Host(from).Refresh()).Guests.Select(g => g.Name));
        Assert.Empty((await fleet.Host(to).Refresh()).Guests);
    }
}
