using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using KvmCluster.Grains.Ports;
using KvmCluster.Hosting.Drivers.Qemu;

namespace KvmCluster.Silo.Tests.Hosts;

/// <summary>What is killed when a migration reaches its fault point.</summary>
public enum FaultTarget { SourceSilo, DestinationSilo, CoordinatorSilo, DestinationQemu, Redis }

/// <summary>How one injected fault ended: the migration's outcome and what the checks found.</summary>
public sealed record FaultOutcome(string Step, FaultTarget Target, string Guest, string Migration, string Status, string? Reason,
    string RunsOn, int QemusLeft, bool RanTwice, bool Lost, double LongestPauseSeconds, double RecoverySeconds, IReadOnlyList<string> Events);

/// <summary>
/// One migration with one fault, on a <see cref="NamespaceCluster"/> of three QEMU hosts: a test guest with a local
/// disk (heartbeat N written to sector N, then printed on the serial line) is migrated between the two hosts the
/// scheduler does not run on, stopped at a protocol step, and the target is killed there; the killed part is started
/// again and the case waits until the migration has ended and the cluster has settled. Then it checks that exactly
/// one QEMU runs the guest, that the record names that host, that the heartbeats never came from two copies and none
/// was lost (every one printed is on the surviving disk), and that the event log tells what happened.
/// </summary>
public sealed partial class MigrationFaultCase(NamespaceCluster cluster, Action<string> log)
{
    public const string Policy = "name: faults\nmigration:\n  allowBlockMigration: true\n  bandwidthMiBps: 16\n";

    [GeneratedRegex(@"heartbeat (\d+)\n")]
    private static partial Regex Beat();

    public async Task ActivatePolicyAsync()
    {
        using var content = new StringContent(Policy, Encoding.UTF8, "application/yaml");
        using var submitted = await cluster.Api().PostAsync("/api/policies?source=faults.yaml", content);
        Assert.True(submitted.IsSuccessStatusCode, await submitted.Content.ReadAsStringAsync());
        await cluster.PostAsync("/api/policies/faults/activate", new { });
    }

    /// <summary>What the last case measured, also when one of its checks then failed (the benchmark counts it).</summary>
    public FaultOutcome? Last { get; private set; }

    public async Task<FaultOutcome> RunAsync(string step, FaultTarget target, string guest, bool localDisk = true, int bufMiB = 16)
    {
        Last = null;
        await cluster.EnsureUpAsync(); // whatever an earlier failed case left down
        var coordinator = (await cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>("/api/cluster", h))).GetProperty("scheduler").GetString()!;
        var hosts = cluster.Hosts.Where(h => h != coordinator).Order(StringComparer.Ordinal).ToList();
        // The guest avoids the scheduler's host: source, destination and the migration's coordinator are three silos.
        var spec = new Dictionary<string, object?>
        {
            ["name"] = guest,
            ["vCpus"] = 1,
            ["memoryMiB"] = 128,
            ["boot"] = new { kernel = TestGuest.Kernel, append = $"buf={bufMiB} rate=4 seed=1 disk={(localDisk ? 1 : 0)} fill=4" },
            ["disks"] = localDisk ? new object[] { new { kind = "local", sizeGiB = 1 } } : Array.Empty<object>(),
            ["affinity"] = new[] { new { scope = "host", key = "hv", value = coordinator, anti = true, hard = true } },
        };
        var placed = await cluster.PostAsync("/api/guests", spec);
        var from = placed.GetProperty("host").GetString()!;
        var to = hosts.Single(h => h != from);
        var watch = new HeartbeatWatch(cluster, guest);
        await watch.WaitBeyondAsync(2, TimeSpan.FromSeconds(30));

        cluster.Arm(step, guest);
        // Not awaited: at the first step the call itself stops at the fault point (and may die with its silo).
        var post = cluster.PostAsync("/api/migrations", new { guest, to }, coordinator);
        var id = await MigrationOf(guest);
        log($"{step} × {target}: {guest} {from} → {to}, scheduler on {coordinator}, migration {id}");
        var reached = await cluster.WaitReachedAsync(async () => post.IsFaulted || await Terminal(id) is not null, TimeSpan.FromSeconds(120));
        Assert.True(reached is not null, $"the migration of {guest} ended without reaching {step}: {(post.IsFaulted ? post.Exception!.GetBaseException().Message : await Terminal(id))}");
        var faultAt = Stopwatch.StartNew();
        string? restart = null;
        switch (target)
        {
            case FaultTarget.SourceSilo: cluster.KillSilo(restart = from); break;
            case FaultTarget.DestinationSilo: cluster.KillSilo(restart = to); break;
            case FaultTarget.CoordinatorSilo:
                // At the grain's own steps the stopped silo is the migration grain's; at the driver's it is the source.
                restart = reached!.Point is FaultPoints.DestinationPrepared or FaultPoints.GrainSwitching or FaultPoints.Completed ? reached.Hypervisor : coordinator;
                cluster.KillSilo(restart);
                break;
            case FaultTarget.DestinationQemu: KillQemu(to, guest); break;
            case FaultTarget.Redis: cluster.KillRedis(); break;
        }
        log($"  stopped at {reached!.Point} on {reached.Hypervisor}; killed {target}{(restart is null ? "" : " " + restart)}");
        cluster.Release(); // whoever was stopped and lives goes on
        await Task.Delay(TimeSpan.FromSeconds(2)); // long enough for the cluster to notice (a dead silo in ~1 s)
        if (target == FaultTarget.Redis) await cluster.StartRedisAsync();
        if (restart is not null) cluster.StartSilo(restart);
        try { await post; } catch (Exception e) { log($"  the migrate call ended with: {e.GetBaseException().Message}"); }

        var ended = await NamespaceCluster.Until(() => Terminal(id), m => m is not null, TimeSpan.FromSeconds(120), $"migration {id} terminal");
        var status = ended!.Value.GetProperty("status").GetString()!;
        var reason = ended.Value.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
        await cluster.WaitReachableAsync(cluster.Hosts, TimeSpan.FromSeconds(90));

        // Settled: one QEMU left, the record naming its host, and the guest running on (a new heartbeat there).
        var (runsOn, left) = await NamespaceCluster.Until(async () => await Task.FromResult(Qemus(guest)), q => q.Count <= 1, TimeSpan.FromSeconds(60), $"one QEMU of {guest}")
            is var q && q.Count == 1 ? (q[0].Host, 1) : ("nowhere", q.Count);
        var record = left == 0 ? default : await NamespaceCluster.Until(() => cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>($"/api/guests/{guest}", h)),
            g => g.GetProperty("host").GetString() == runsOn && g.GetProperty("status").GetString() == "running", TimeSpan.FromSeconds(60), $"the record of {guest}");
        if (left == 1) await watch.WaitBeyondAsync(watch.Last + 1, TimeSpan.FromSeconds(30));
        var recovery = faultAt.Elapsed.TotalSeconds;
        watch.Stop();

        var printed = watch.Printed();
        var twice = printed.Values.SelectMany(s => s).GroupBy(b => b).Count(g => g.Count() > 1);
        var events = (await cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>($"/api/events?subject={guest}&limit=200", h)))
            .EnumerateArray().Select(e => $"{e.GetProperty("kind").GetString()}: {e.GetProperty("message").GetString()}").ToList();
        var outcome = new FaultOutcome(step, target, guest, id, status, reason, runsOn, left, twice > 1, left == 0, watch.LongestPause.TotalSeconds, recovery, events);
        Last = outcome;
        log($"  {status}{(reason is null ? "" : $" ({reason})")}; runs on {runsOn}; longest pause {outcome.LongestPauseSeconds:0.0} s; settled {recovery:0.0} s after the fault");

        if (step == FaultPoints.Completed && target == FaultTarget.DestinationQemu)
        {
            // The only copy was killed after the migration was over: a host failure, not the protocol's. What is
            // required is that it is said: the record says lost, and the event log says why.
            Assert.Equal(0, left);
            Assert.Equal("completed", status);
            var lost = await NamespaceCluster.Until(() => cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>($"/api/guests/{guest}", h)),
                g => g.GetProperty("status").GetString() == "lost", TimeSpan.FromSeconds(60), $"{guest} marked lost");
            events = (await cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>($"/api/events?subject={guest}&limit=200", h)))
                .EnumerateArray().Select(e => $"{e.GetProperty("kind").GetString()}: {e.GetProperty("message").GetString()}").ToList();
            Assert.Contains(events, e => e.StartsWith("guest-lost", StringComparison.Ordinal));
            return outcome with { Events = events };
        }
        // The checks: one copy, where the record says, heartbeats from one writer at a time, none lost.
        Assert.True(left == 1, $"{left} QEMUs run {guest} after {step} × {target} ({status}: {reason})\n{string.Join("\n", events)}");
        Assert.True(twice <= 1, $"{twice} heartbeats of {guest} were printed by two copies: {Describe(printed)}");
        var all = printed.Values.SelectMany(s => s).Distinct().Order().ToList();
        Assert.True(all.Count > 0 && all[^1] - all[0] + 1 == all.Count, $"the heartbeats of {guest} have a gap: {Describe(printed)}");
        Assert.Equal(runsOn, record.GetProperty("host").GetString());
        Assert.Equal(status == "completed" ? to : from, runsOn);
        if (localDisk)
        {
            var onDisk = await DiskHeartbeats(runsOn, guest, all[^1]);
            // Every heartbeat printed was written to the disk first; the surviving disk holds all the ones before the last.
            Assert.True(all.Where(b => b < all[^1]).All(onDisk.Contains), $"heartbeats missing on {runsOn}'s disk of {guest}: {string.Join(",", all.Where(b => b < all[^1] && !onDisk.Contains(b)))}");
        }
        Assert.Contains(events, e => e.StartsWith("migration-started", StringComparison.Ordinal));
        Assert.Contains(events, e => e.StartsWith("migration-" + status, StringComparison.Ordinal));
        Assert.DoesNotContain(events, e => e.StartsWith("guest-lost", StringComparison.Ordinal) || e.StartsWith("guest-running-twice", StringComparison.Ordinal));
        return outcome;
    }

    /// <summary>Stops the guest for good (kills its QEMU) so the next case starts with an idle fleet.</summary>
    public void Remove(string guest)
    {
        foreach (var (_, pid) in Qemus(guest)) try { Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { }
    }

    /// <summary>The migration's id, from its "migration-started" event (recorded before anything else happens).</summary>
    private async Task<string> MigrationOf(string guest)
    {
        var started = await NamespaceCluster.Until(async () =>
        {
            try
            {
                var events = await cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>($"/api/events?subject={guest}&kind=migration-started", h));
                return events.EnumerateArray().Select(e => e.GetProperty("message").GetString()!).FirstOrDefault();
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return null; }
        }, m => m is not null, TimeSpan.FromSeconds(60), $"the migration of {guest} started");
        return MigrationId().Match(started!).Groups[1].Value;
    }

    [GeneratedRegex(@"^migration (\S+):")]
    private static partial Regex MigrationId();

    private async Task<JsonElement?> Terminal(string id)
    {
        try
        {
            var m = await cluster.AskAnyAsync(h => cluster.GetAsync<JsonElement>($"/api/migrations/{id}", h));
            return m.GetProperty("status").GetString() is "completed" or "failed" or "cancelled" ? m : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException) { return null; }
    }

    private void KillQemu(string host, string guest)
    {
        var qemu = Qemus(guest).Where(q => q.Host == host).ToList();
        Assert.True(qemu.Count == 1, $"expected the destination QEMU of {guest} on {host}, found {qemu.Count}");
        Process.GetProcessById(qemu[0].Pid).Kill();
    }

    private List<(string Host, int Pid)> Qemus(string guest) => cluster.Qemus(guest);

    private async Task<HashSet<int>> DiskHeartbeats(string host, string guest, int upTo)
    {
        var image = GuestFiles.For(Path.Combine(cluster.StateOf(host), "qemu"), guest).Disk(0);
        var raw = Path.Combine(cluster.Work.FullName, $"{guest}.raw");
        using (var dd = new ExternalProcess("qemu-img", ["dd", "-U", "-f", "qcow2", "-O", "raw", "bs=512", $"count={upTo + 2}", $"if={image}", $"of={raw}"]))
            Assert.True(await dd.WaitAsync(TimeSpan.FromSeconds(60)) == 0, dd.Output);
        var bytes = await File.ReadAllBytesAsync(raw);
        File.Delete(raw);
        var found = new HashSet<int>();
        for (var beat = 1; (beat + 1) * 512 <= bytes.Length; beat++)
            if (Encoding.ASCII.GetString(bytes, beat * 512, 32).StartsWith($"heartbeat {beat}\n", StringComparison.Ordinal)) found.Add(beat);
        return found;
    }

    private static string Describe(Dictionary<string, List<int>> printed) =>
        string.Join("; ", printed.Select(p => $"{p.Key}: {(p.Value.Count == 0 ? "none" : $"{p.Value[0]}..{p.Value[^1]} ({p.Value.Count})")}"));

    /// <summary>
    /// Reads every host's serial log of the guest several times a second: which heartbeats each host's QEMU printed,
    /// and the longest time no new heartbeat appeared anywhere (the guest's pause, as its user would see it).
    /// </summary>
    private sealed class HeartbeatWatch
    {
        private readonly NamespaceCluster _cluster;
        private readonly string _guest;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private TimeSpan _lastChange;
        public TimeSpan LongestPause { get; private set; }
        public int Last { get; private set; }

        public HeartbeatWatch(NamespaceCluster cluster, string guest)
        {
            (_cluster, _guest) = (cluster, guest);
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    var last = Printed().Values.SelectMany(s => s).DefaultIfEmpty(0).Max();
                    if (last > Last)
                    {
                        if (Last > 0) LongestPause = TimeSpan.FromTicks(Math.Max(LongestPause.Ticks, (_clock.Elapsed - _lastChange).Ticks));
                        (Last, _lastChange) = (last, _clock.Elapsed);
                    }
                    try { await Task.Delay(100, _stop.Token); } catch (OperationCanceledException) { }
                }
            });
        }

        public Dictionary<string, List<int>> Printed()
        {
            var result = new Dictionary<string, List<int>>(StringComparer.Ordinal);
            foreach (var h in _cluster.Hosts)
            {
                var serial = GuestFiles.For(Path.Combine(_cluster.StateOf(h), "qemu"), _guest).Serial;
                if (!File.Exists(serial)) continue;
                string text;
                using (var s = new FileStream(serial, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete)) text = new StreamReader(s).ReadToEnd();
                result[h] = [.. Beat().Matches(text).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))];
            }
            return result;
        }

        public async Task WaitBeyondAsync(int beat, TimeSpan within) =>
            await NamespaceCluster.Until(() => Task.FromResult(Last), b => b >= beat, within, $"heartbeat {beat} of {_guest}");

        public void Stop() { _stop.Cancel(); _loop.Wait(); }
    }
}
