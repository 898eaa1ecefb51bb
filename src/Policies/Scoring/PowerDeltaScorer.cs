using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Scoring;

/// <summary>
/// Prefers the host whose power draw grows least when the guest's CPU load lands on it, from the host's
/// SPECpower-style table (CloudSim's PABFD criterion). Watts are divided by the widest idle-to-peak range
/// in the fleet — one constant for every host, so the ranking stays the ranking by absolute watts.
/// Hosts without a power model count as linear over that range.
/// </summary>
public sealed class PowerDeltaScorer : IScorer
{
    public static readonly PowerDeltaScorer Instance = new();
    public string Id => "power";

    public double Score(GuestDemand d, int h, PlacementState s)
    {
        if (h == d.CurrentHost) return 1;
        var cap = s.CpuCapacityMhz[h];
        if (cap <= 0) return 0;
        var now = s.CpuUsedMhz[h] / cap;
        var after = (s.CpuUsedMhz[h] + d.CpuMhz) / cap;
        var model = s.Hosts[h].PowerModel;
        var delta = model is null
            ? Math.Min(1, after) - Math.Min(1, now)
            : (model.At(after) - model.At(now)) / s.PowerRangeWatts;
        return Math.Clamp(1 - delta, 0, 1);
    }
}
