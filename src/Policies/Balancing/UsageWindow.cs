using KvmCluster.Policies.Balancing.Adaptive;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Balancing;

/// <summary>
/// How many usage samples a policy's rules read, at a given sample interval: the host agents keep that many per
/// guest (live) and the simulator keeps the same (replays), so every time-window rule sees the window it names.
/// Keeping more would change nothing; keeping fewer would make the rule fall back (hold windows of one sample,
/// power-saving's "not enough usage history", the adaptive detectors' static threshold).
/// </summary>
public static class UsageWindow
{
    /// <summary>Kept whatever the policy: the dirty rate and resident memory the planner prices moves with.</summary>
    public const int Minimum = 2;

    public static int Samples(Rules.Policy policy, double sampleSeconds)
    {
        int For(double minutes) => Math.Max(1, (int)Math.Ceiling(minutes * 60 / sampleSeconds));
        var n = policy.Kind switch
        {
            BalancerKind.EvenlyDistributed => For(policy.EvenlyDistributed.HoldMinutes),
            BalancerKind.PowerSaving => Math.Max(For(policy.PowerSaving.PowerOnWindowMinutes), For(policy.PowerSaving.PowerOffWindowMinutes)),
            // CloudSim's detectors read up to 30 samples of host history (MAD and IQR need 12, LR 10).
            BalancerKind.Adaptive => HostHistory.Length,
            _ => 1,
        };
        return Math.Max(Minimum, n);
    }
}
