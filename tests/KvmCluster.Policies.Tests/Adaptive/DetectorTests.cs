using KvmCluster.Policies.Balancing.Adaptive;

namespace KvmCluster.Policies.Tests.Adaptive;

public class DetectorTests
{
    [Fact]
    public void Statistics_follow_cloudsims_definitions()
    {
        Assert.Equal(2.5, AdaptiveMath.Median([4, 1, 3, 2]));
        Assert.Equal(2, AdaptiveMath.Median([3, 1, 2]));
        // commons-math Percentile(50) on 5 values at position 3: the middle one.
        Assert.Equal(30, AdaptiveMath.Median([50, 10, 40, 20, 30]));
        // IQR with CloudSim's quartile positions: n=12 → sorted[round(3.25)−1] and sorted[round(9.75)−1].
        Assert.Equal(10 - 3, AdaptiveMath.Iqr([.. Enumerable.Range(1, 12).Select(i => (double)i).Reverse()]));
        Assert.Equal(1, AdaptiveMath.Mad([1, 1, 2, 2, 4, 6, 9]));
        var (a, b) = AdaptiveMath.LinearFit([1, 3, 5, 7]);
        Assert.Equal(-1, a, 12);
        Assert.Equal(2, b, 12);
    }

    private static (ArrayFleet Fleet, int Host) HostWith(params double[] historyNewestFirst)
    {
        var f = new ArrayFleet();
        var h = f.AddHost(1000);
        f.AddVm(h, 1000, 613, historyNewestFirst[0] * 1000, historyNewestFirst);
        return (f, h);
    }

    [Fact]
    public void Thr_compares_requested_utilisation()
    {
        var (f, h) = HostWith(0.85);
        Assert.True(new ThrDetector(0.8).IsOverloaded(f, h));
        Assert.False(new ThrDetector(0.9).IsOverloaded(f, h));
    }

    [Fact]
    public void Lr_extrapolates_the_last_ten_samples_one_migration_ahead()
    {
        // Oldest→newest 0.45, 0.50, …, 0.90: slope 0.05; 613 MB at 62.5 MB/s ≈ 9.8 s → 1 interval → x = 11 → 0.95.
        var newestFirst = Enumerable.Range(0, 10).Select(i => 0.90 - 0.05 * i).ToArray();
        var (f, h) = HostWith(newestFirst);
        var lr = new LrDetector(1.2, new ThrDetector(0.7), 300);
        Assert.Equal(1.2 * 0.95, lr.Predict(f, h)!.Value, 9);
        Assert.True(lr.IsOverloaded(f, h));           // 1.14 ≥ 1
        Assert.False(new LrDetector(1.0, new ThrDetector(0.7), 300).IsOverloaded(f, h)); // 0.95 < 1
        Assert.Equal(lr.Predict(f, h), new LrrDetector(1.2, new ThrDetector(0.7), 300).Predict(f, h)); // the CloudSim bug: LRR ≡ LR here
    }

    [Fact]
    public void Statistical_detectors_fall_back_to_thr_without_enough_history()
    {
        var (f, h) = HostWith(0.75, 0.75, 0.75);  // 3 samples, 75 %
        Assert.True(new LrDetector(1.2, new ThrDetector(0.7), 300).IsOverloaded(f, h));
        Assert.True(new IqrDetector(1.5, new ThrDetector(0.7)).IsOverloaded(f, h));
        Assert.True(new MadDetector(2.5, new ThrDetector(0.7)).IsOverloaded(f, h));
        Assert.False(new MadDetector(2.5, new ThrDetector(0.8)).IsOverloaded(f, h));
    }

    [Fact]
    public void Iqr_and_mad_lower_the_threshold_for_variable_hosts()
    {
        var steady = Enumerable.Repeat(0.6, 12).ToArray();
        // Newest 0.6, then 0.1, 0.2, … 0.9, 0.1, 0.2: widely spread.
        double[] spread = [0.6, .. Enumerable.Range(0, 11).Select(i => 0.1 * (1 + i % 9))];
        var (fs, hs) = HostWith(steady);
        var (fw, hw) = HostWith(spread);
        var fallback = new ThrDetector(0.7);
        Assert.False(new IqrDetector(1.5, fallback).IsOverloaded(fs, hs)); // IQR 0: threshold 1.0
        Assert.True(new IqrDetector(1.5, fallback).IsOverloaded(fw, hw));  // IQR ≈ 0.4: threshold ≈ 0.4 < 0.6
        Assert.False(new MadDetector(2.5, fallback).IsOverloaded(fs, hs));
        Assert.True(new MadDetector(2.5, fallback).IsOverloaded(fw, hw));  // MAD 0.2: threshold 0.5 < 0.6
    }
}
