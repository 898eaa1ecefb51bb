using KvmCluster.Grains.Ports;
using KvmCluster.Silo.Tests.Hosts;
using Xunit.Abstractions;

namespace KvmCluster.Silo.Tests;

/// <summary>Three QEMU hosts in their own network namespaces, Redis in a fourth: one cluster for every fault case.</summary>
public sealed class QemuNamespaceFleet : IAsyncLifetime
{
    public NamespaceCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _ = TestGuest.Kernel;
        Cluster = await NamespaceCluster.StartAsync(["h1", "h2", "h3"], "qemu");
        await new MigrationFaultCase(Cluster, _ => { }).ActivatePolicyAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>
/// The kill matrix on real QEMU and separate hosts: for every step of the migration protocol, kill in turn the
/// source silo, the destination silo, the silo of the migration grain, the destination QEMU and Redis, exactly at that
/// step (fault points, not sleeps). After each the guest runs exactly once, where its record says, with every heartbeat.
/// </summary>
[Collection("qemu")]
public sealed class MigrationFaultTests(QemuNamespaceFleet fleet, ITestOutputHelper output) : IClassFixture<QemuNamespaceFleet>
{
    public static TheoryData<string, FaultTarget> Matrix()
    {
        var data = new TheoryData<string, FaultTarget>();
        foreach (var step in FaultPoints.All)
            foreach (var target in Enum.GetValues<FaultTarget>())
                data.Add(step, target);
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task A_fault_at_any_step_leaves_the_guest_running_exactly_once_where_its_record_says(string step, FaultTarget target)
    {
        var guest = $"g-{Abbreviation(step)}-{target.ToString().ToLowerInvariant()}";
        var faults = new MigrationFaultCase(fleet.Cluster, output.WriteLine);
        try { await faults.RunAsync(step, target, guest); }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\n{e.StackTrace}\n{fleet.Cluster.AllLogs(guest)}");
        }
        finally { faults.Remove(guest); fleet.Cluster.Release(); }
    }

    /// <summary>The case the issue reports: a memory-only guest at 16 MiB/s, the source silo killed mid-transfer.</summary>
    [Fact]
    public async Task Killing_the_source_silo_mid_transfer_at_16_MiB_per_s_keeps_the_guest()
    {
        var faults = new MigrationFaultCase(fleet.Cluster, output.WriteLine);
        try
        {
            var outcome = await faults.RunAsync(FaultPoints.TransferRunning, FaultTarget.SourceSilo, "mem-source", localDisk: false, bufMiB: 64);
            Assert.Equal("completed", outcome.Status); // the source QEMU finished on its own; the destination was resumed by the decision
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\n{e.StackTrace}\n{fleet.Cluster.AllLogs("mem-source")}");
        }
        finally { faults.Remove("mem-source"); fleet.Cluster.Release(); }
    }

    /// <summary>
    /// The fault benchmark: migrations with a random fault each (step and target drawn with a fixed seed), counted by
    /// outcome. KVMCLUSTER_FAULT_RUNS sets how many (6 in the test suite; the README's figures are from 100),
    /// KVMCLUSTER_FAULT_SEED the seed. The summary goes to the test output and to /tmp/kvmcluster-fault-benchmark.txt.
    /// </summary>
    [Fact]
    public async Task FaultBenchmark_random_faults_lose_no_guest_and_run_none_twice()
    {
        var runs = int.Parse(Environment.GetEnvironmentVariable("KVMCLUSTER_FAULT_RUNS") ?? "6", System.Globalization.CultureInfo.InvariantCulture);
        var seed = int.Parse(Environment.GetEnvironmentVariable("KVMCLUSTER_FAULT_SEED") ?? "2026", System.Globalization.CultureInfo.InvariantCulture);
        var random = new Random(seed);
        var targets = Enum.GetValues<FaultTarget>();
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        int lost = 0, twice = 0, hostFailures = 0;
        var failures = new List<string>();
        var settle = new List<double>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 1; i <= runs; i++)
        {
            var (step, target) = (FaultPoints.All[random.Next(FaultPoints.All.Count)], targets[random.Next(targets.Length)]);
            var guest = $"rf-{i:D3}";
            var faults = new MigrationFaultCase(fleet.Cluster, output.WriteLine);
            try { await faults.RunAsync(step, target, guest); }
            catch (Exception e)
            {
                failures.Add($"{guest} {step} × {target}: {e.Message.Split('\n')[0]}");
                fleet.Cluster.AllLogs(guest);
            }
            finally { faults.Remove(guest); fleet.Cluster.Release(); }
            if (faults.Last is not { } o) { outcomes["not measured"] = outcomes.GetValueOrDefault("not measured") + 1; continue; }
            outcomes[o.Status] = outcomes.GetValueOrDefault(o.Status) + 1;
            settle.Add(o.RecoverySeconds);
            // The destination QEMU killed after the migration completed: the only copy died with its host, as it
            // would without any migration. Counted apart; the case checks it is marked lost.
            if (step == FaultPoints.Completed && target == FaultTarget.DestinationQemu) hostFailures++;
            else if (o.Lost) lost++;
            if (o.RanTwice || o.QemusLeft > 1) twice++;
        }
        settle.Sort();
        var summary = $"fault benchmark, seed {seed}: {runs} faults injected in {watch.Elapsed.TotalMinutes:0.0} min; " +
            $"guests lost {lost}, guests run twice {twice}, only copy killed after completion (marked lost) {hostFailures}; " +
            $"outcomes: {string.Join(", ", outcomes.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value}"))}; " +
            (settle.Count > 0 ? $"settled after the fault: median {settle[settle.Count / 2]:0.0} s, max {settle[^1]:0.0} s; " : "") +
            $"cases whose checks failed {failures.Count}";
        output.WriteLine(summary);
        foreach (var f in failures) output.WriteLine("  " + f);
        File.WriteAllText("/tmp/kvmcluster-fault-benchmark.txt", summary + "\n" + string.Join("\n", failures) + "\n");
        Assert.True(lost == 0 && twice == 0 && failures.Count == 0, summary + "\n" + string.Join("\n", failures));
    }

    private static string Abbreviation(string step) => string.Concat(step.Split('-').Select(w => w[0]));
}
