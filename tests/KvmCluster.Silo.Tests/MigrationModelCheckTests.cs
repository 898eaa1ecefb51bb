using KvmCluster.Bench;
using KvmCluster.Policies.Migration;
using Xunit.Abstractions;

namespace KvmCluster.Silo.Tests;

/// <summary>The cost model against real QEMU migrations of the test guest (TCG, loopback): within 25 % on converging cases.</summary>
[Collection("qemu")]
public sealed class MigrationModelCheckTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_cost_model_predicts_measured_migrations_within_25_percent()
    {
        var dir = Directory.CreateTempSubdirectory("kvm-model-");
        try
        {
            var rows = await MigrationModelCheck.RunAsync(TestGuest.Qemu, TestGuest.Kernel, dir.FullName, MigrationModelCheck.Matrix);
            output.WriteLine(MigrationModelCheck.Table(rows));
            Assert.Equal(MigrationModelCheck.Matrix.Count, rows.Count);
            // Asserted where a bandwidth cap paces the migration (what operators configure). Uncapped on loopback,
            // QEMU's own bandwidth estimate decides when to stop the guest, and the same case measured 106–706 ms
            // between runs here: those rows are reported (README), not asserted.
            // The capped post-copy row checks that the cap holds after the switch, in QEMU and in the model alike.
            static bool Asserted(ModelCheckRow r) => r.Case.BandwidthMiBps > 0 && r.Predicted.Outcome is MigrationOutcome.Converges or MigrationOutcome.CompletesWithPostCopy;
            foreach (var r in rows.Where(Asserted))
            {
                Assert.True(Math.Abs(r.TimeError) <= 0.25, $"{r.Case}: total {r.Measured.TotalMs:0} ms measured, {r.Predicted.TotalSeconds * 1000:0} ms predicted\n" + MigrationModelCheck.Table(rows));
                Assert.True(Math.Abs(r.BytesError) <= 0.25, $"{r.Case}: {r.Measured.TransferredMiB:0} MiB measured, {r.Predicted.TransferredMiB:0} MiB predicted");
            }
            Assert.Equal(4, rows.Count(Asserted));
        }
        finally { dir.Delete(recursive: true); }
    }
}

/// <summary>`bench migration` on real QEMU, two rounds: both paths measured, the driver's share inside each wall time.</summary>
[Collection("qemu")]
public sealed class MigrationBenchTests
{
    [Fact]
    public async Task The_migration_benchmark_times_both_paths_and_the_drivers_share_of_each()
    {
        var dir = Directory.CreateTempSubdirectory("kvb-");
        try
        {
            var r = await KvmCluster.Bench.MigrationOverheadBench.RunAsync(TestGuest.Qemu, TestGuest.Kernel, dir.FullName, rounds: 2);
            Assert.Equal(2, r.DirectMs.Count);
            Assert.Equal(2, r.ClusterMs.Count);
            Assert.All(r.DirectDriverMs.Concat(r.ClusterDriverMs), ms => Assert.True(ms > 0, "the driver's time was not recorded"));
            // The driver's time is part of each migration's wall time (rounding: 0.1 ms).
            Assert.All(r.DirectMs.Zip(r.DirectDriverMs).Concat(r.ClusterMs.Zip(r.ClusterDriverMs)), p => Assert.True(p.Second <= p.First + 0.2, $"{p.Second} ms of driver work in {p.First} ms"));
            Assert.Equal(r.ClusterAroundMedianMs - r.DirectAroundMedianMs, r.ClusterWorkMs, 0.15);
        }
        finally { dir.Delete(recursive: true); }
    }
}
