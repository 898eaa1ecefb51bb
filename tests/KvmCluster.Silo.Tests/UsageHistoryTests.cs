using System.Globalization;
using System.Text.RegularExpressions;
using KvmCluster.Grains.Contracts;
using KvmCluster.Hosting;
using KvmCluster.Hosting.Drivers;
using KvmCluster.Hosting.Power;
using Microsoft.Extensions.DependencyInjection;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// Time windows live: a silo simulating three hypervisors 300 times faster than real time, so its host grains take a
/// 5-minute usage sample every second on their own timers, and the scheduler plans every second. The guests follow
/// scripted loads (a guest's n-th sample is the script's n-th value), so what a round can know is exactly how many
/// samples the hosts have taken. The decisions' reasons, in the event log, show which rule decided.
/// </summary>
public sealed partial class UsageHistoryTests : IDisposable
{
    private readonly RecordingPowerCommand _power = new();

    private Task<EmbeddedFleet> StartAsync(params GuestLoadScript[] loads)
    {
        var settings = new SiloSettings { Power = "command", PlanningIntervalSeconds = 1, HostReportSeconds = 1, SampleIntervalSeconds = 300 };
        return EmbeddedFleet.StartAsync(["hv-1", "hv-2", "hv-3"], 1, settings, services =>
        {
            services.Configure<PowerOptions>(o => o.Command = _power.Script);
            services.Configure<SimulatedDriverOptions>(o => { o.TimeScale = 300; o.Threads = 16; o.MemoryMiB = 64 * 1024; o.Loads = [.. loads]; });
        });
    }

    private static async Task Launch(EmbeddedFleet fleet, string host, string guest, int vcpus) =>
        await fleet.Hypervisor(host).LaunchAsync(new() { Name = guest, VCpus = vcpus, MemoryMiB = 4096, Host = host }, CancellationToken.None);

    private static async Task Activate(EmbeddedFleet fleet, string yaml)
    {
        var policies = fleet.Grains.GetGrain<IPolicyGrain>(Cluster.Key);
        var v = await policies.Submit(yaml, "test.yaml");
        await policies.Activate(v.Name, v.Version);
    }

    private static async Task<IReadOnlyList<EventRecord>> Events(EmbeddedFleet fleet, string kind) =>
        await fleet.Grains.GetGrain<IEventLogGrain>(Cluster.Key).Query(null, kind, 0);

    [Fact]
    public async Task Power_saving_powers_an_idle_host_off_only_once_its_forty_minute_window_is_sampled()
    {
        await using var fleet = await StartAsync(new GuestLoadScript { Guests = "*", Cpu = [0.05] });
        await Activate(fleet, "name: dpm\nbalancer: power-saving\nautomation: full\npowerSaving:\n  hostsInReserve: 0\n");
        await Launch(fleet, "hv-1", "a1", 2);
        foreach (var g in new[] { "b1", "b2", "b3" }) await Launch(fleet, "hv-2", g, 2);
        foreach (var g in new[] { "c1", "c2", "c3" }) await Launch(fleet, "hv-3", g, 2);
        await fleet.ReportAllAsync();

        var off = await ThreeHypervisors.Eventually(() => Events(fleet, "host-power-off"), e => e.Count > 0, TimeSpan.FromSeconds(60));
        var rounds = (await Events(fleet, "plan-recommended")).ToList();
        var first = rounds.First(r => r.Reasons.Any(x => x.StartsWith("power-off hv-", StringComparison.Ordinal)));
        // Every earlier round said why it waited; the deciding one judged 40 minutes of real samples.
        var before = rounds.TakeWhile(r => r != first).ToList();
        Assert.NotEmpty(before);
        Assert.All(before, r => Assert.Contains(r.Reasons, x => x.Contains("not enough usage history for the 40-minute power-off window (8 samples needed)", StringComparison.Ordinal)));
        Assert.Contains(first.Reasons, x => DemandOver40().IsMatch(x));
        Assert.Equal("hv-1", off[0].Subject);
        Assert.True(_power.Calls().Single(c => c.Verb == "off").At >= first.At);
        var hosts = await fleet.Scheduler.Hosts();
        Assert.All(hosts, h => Assert.True(h.HistorySamples >= 8 || h.Guests.Count == 0, $"{h.Name} keeps {h.HistorySamples} samples"));
        Assert.NotEqual("hv-1", (await fleet.Scheduler.Guests()).Single(g => g.Name == "a1").Host);
    }

    [Fact]
    public async Task LR_predicts_an_overload_from_the_sampled_history_before_the_fallback_threshold_would()
    {
        // hv-1's four guests (its 16 threads, one each) ramp by 6 % a sample: 5 %, 11 %, … A line through ten samples
        // crosses 100 % one migration ahead (× 1.5) at 65 %, far below the 90 % fallback threshold.
        var ramp = Enumerable.Range(0, 40).Select(k => Math.Min(0.95, 0.05 + 0.06 * k)).ToList();
        await using var fleet = await StartAsync(new GuestLoadScript { Guests = "up-*", Cpu = ramp }, new GuestLoadScript { Guests = "*", Cpu = [0.05] });
        await Activate(fleet, "name: lr\nbalancer: adaptive\nautomation: manual\nadaptive:\n  detector: lr\n  parameter: 1.5\n  fallbackThreshold: 0.9\n  consolidateUnderloaded: false\n");
        foreach (var g in new[] { "up-1", "up-2", "up-3", "up-4" }) await Launch(fleet, "hv-1", g, 4);
        await Launch(fleet, "hv-2", "calm-1", 2);
        await fleet.ReportAllAsync();

        var overload = await ThreeHypervisors.Eventually(() => Events(fleet, "plan-recommended"),
            rs => rs.Any(r => r.Reasons.Any(x => x.Contains("overloaded by LR(1.5)", StringComparison.Ordinal))), TimeSpan.FromSeconds(60));
        var rounds = overload.ToList();
        var first = rounds.First(r => r.Reasons.Any(x => x.Contains("overloaded by LR(1.5)", StringComparison.Ordinal)));
        Assert.All(rounds.TakeWhile(r => r != first), r => Assert.DoesNotContain(r.Reasons, x => x.Contains("overloaded", StringComparison.Ordinal)));
        var cpu = int.Parse(CpuNow().Match(string.Join(" ", first.Reasons)).Groups[1].Value, CultureInfo.InvariantCulture);
        // Below the fallback's 90 %: the line through real history decided. At or above 59 %: ten samples had been taken.
        Assert.InRange(cpu, 59, 89);
        Assert.Contains(first.Reasons, x => x.StartsWith("up-", StringComparison.Ordinal) && x.Contains("hv-1 →", StringComparison.Ordinal));
    }

    [GeneratedRegex("demand over 40 min is [0-9]+ %, below 45 %")]
    private static partial Regex DemandOver40();

    [GeneratedRegex(@"overloaded by LR\(1\.5\) \(CPU ([0-9]+) % now\)")]
    private static partial Regex CpuNow();

    public void Dispose() => _power.Dispose();
}
