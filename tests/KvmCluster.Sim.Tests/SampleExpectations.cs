namespace KvmCluster.Sim.Tests;

/// <summary>
/// The figures of samples/traces/planetlab-sample (60 synthetic VMs, one day) on cloudsim-planetlab:hosts=50 in
/// CloudSim-compatible mode, recorded from this simulator once its parity with CloudSim on the real PlanetLab
/// days was established. NPA is also checkable by hand: 25 × 117 W + 25 × 135 W for 86,100 s = 150.675175 kWh.
/// </summary>
internal static class SampleExpectations
{
    public sealed record Figures(double Energy, int Migrations, double Slatah, double Pdm);

    public static Figures For(string policy) => policy switch
    {
        "npa" => new(150.675175, 0, 0, 0),
        "dvfs" => new(53.96718072528418, 0, 0, 0),
        "thr-mmt-0.8" => new(15.532476265160659, 1606, 0.03178647906174855, 0.0006335506384564707),
        "lr-mmt-1.2" => new(13.262260277317212, 675, 0.017754637649194212, 0.0002526509143445327),
        "lr-mc-1.2" => new(12.687416058930454, 382, 0.01411989923663553, 0.00018020517112041787),
        _ => throw new ArgumentException($"no recorded figures for {policy}"),
    };
}
