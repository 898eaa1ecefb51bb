using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Model;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// Hugepage-backed guests and KSM on real QEMU. Both hypervisors of the fixture are this machine, so they share one
/// hugepage pool and one KSM; the tests put the machine's settings back when they end.
/// </summary>
[Collection("qemu")]
public sealed class QemuMemoryTests
{
    private const string Pool = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";

    private static Guest TestVm(string name, int buf = 32, int seed = 1) => new()
    {
        Name = name,
        VCpus = 1,
        MemoryMiB = 128,
        Boot = new GuestBoot(TestGuest.Kernel, $"buf={buf} rate=5 seed={seed}"),
    };

    [Fact]
    public async Task A_hugepage_guest_migrates_and_one_that_does_not_fit_is_refused_or_fails_with_QEMUs_words()
    {
        var before = File.ReadAllText(Pool).Trim();
        try
        {
            await using var fleet = await TwoQemuHypervisors.StartAsync();
            // 128 MiB guests need 64 pages each; a migration holds two copies for a moment.
            var tuned = await fleet.Host("hv-0").Tune(new HostTuning(HugepageSizeKiB: 2048, HugepagePages: 160));
            Assert.Equal(160, tuned.Host.Hugepages.Single(p => p.PageSizeKiB == 2048).Total);
            await fleet.Host("hv-1").Refresh();
            await ThreeHypervisors.Eventually(() => fleet.Scheduler.Hosts(), hs => hs.All(h => h.Facts.Hugepages.Any(p => p.PageSizeKiB == 2048 && p.Free == 160)));

            var spec = TestVm("huge-1") with { HugepageSizeKiB = 2048 };
            var from = (await fleet.Scheduler.Place(spec)).Host!;
            var to = from == "hv-0" ? "hv-1" : "hv-0";
            await fleet.Heartbeat(from, "huge-1");
            var started = await fleet.Scheduler.Migrate("huge-1", to, false);
            var ended = await ThreeHypervisors.Eventually(() => fleet.Client.GetGrain<IMigrationGrain>(started.Id).Get(), m => m!.Status is MigrationStatus.Completed or MigrationStatus.Failed);
            Assert.True(ended!.Status == MigrationStatus.Completed, ended.Reason);
            await fleet.Heartbeat(to, "huge-1", TestGuest.LastHeartbeat(fleet.Serial(from, "huge-1")));

            // Leave 10 free pages: the scheduler, which sees the pool in the hosts' reports, refuses another one.
            await fleet.Host("hv-0").Tune(new HostTuning(HugepageSizeKiB: 2048, HugepagePages: 74));
            await fleet.Host("hv-1").Refresh();
            await ThreeHypervisors.Eventually(() => fleet.Scheduler.Hosts(), hs => hs.All(h => h.Facts.Hugepages.Single(p => p.PageSizeKiB == 2048).Free == 10));
            var refused = await Assert.ThrowsAsync<ClusterException>(() => fleet.Scheduler.Place(TestVm("huge-2") with { HugepageSizeKiB = 2048 }));
            Assert.Contains("hugepage", refused.Message);
            // Forced past the scheduler onto a host: QEMU's own error comes back.
            var forced = await Assert.ThrowsAsync<ClusterException>(() => fleet.Host(to).Launch(TestVm("huge-2") with { HugepageSizeKiB = 2048 }));
            Assert.Contains("Cannot allocate memory", forced.Message);
            Assert.Equal(["huge-1"], (await fleet.Host(to).Refresh()).Guests.Select(g => g.Name));
        }
        finally { File.WriteAllText(Pool, before); }
    }

    [Fact]
    public async Task KSM_merges_the_memory_of_two_identical_guests()
    {
        const string Ksm = "/sys/kernel/mm/ksm/";
        var saved = new[] { "run", "pages_to_scan", "sleep_millisecs" }.ToDictionary(f => f, f => File.ReadAllText(Ksm + f).Trim());
        try
        {
            await using var fleet = await TwoQemuHypervisors.StartAsync();
            var host = fleet.Host("hv-0");
            var off = await host.Tune(new HostTuning(KsmRun: false));
            Assert.False(off.Host.Ksm.Enabled);
            // Same seed: the same 64 MiB in both guests.
            await host.Launch(TestVm("twin-1", buf: 64, seed: 7));
            await host.Launch(TestVm("twin-2", buf: 64, seed: 7));
            await fleet.Heartbeat("hv-0", "twin-1");
            await fleet.Heartbeat("hv-0", "twin-2");
            var on = await host.Tune(new HostTuning(KsmRun: true, KsmPagesToScan: 5000, KsmSleepMillisecs: 20));
            Assert.True(on.Host.Ksm.Enabled);
            // 64 MiB = 16,384 pages each; expect well over half of one guest's buffer shared.
            var merged = await ThreeHypervisors.Eventually(() => host.Refresh(), r => r.Host.Ksm.PagesSharing > 8000, TimeSpan.FromSeconds(60));
            Assert.True(merged.Host.Ksm.PagesSharing > 8000);
        }
        finally
        {
            File.WriteAllText(Ksm + "run", "2"); // unmerge everything first, as the kernel documents
            File.WriteAllText(Ksm + "run", saved["run"]);
            File.WriteAllText(Ksm + "pages_to_scan", saved["pages_to_scan"]);
            File.WriteAllText(Ksm + "sleep_millisecs", saved["sleep_millisecs"]);
        }
    }
}
