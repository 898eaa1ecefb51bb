using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Scoring;

/// <summary>
/// Prefers the host whose power draw grows least when the guest's CPU load lands on it, from the host's
/// SPECpower-style table (CloudSim's PABFD criterion). Watts are divided by the widest idle-to-peak range
/// in the fleet — one constant for every host, so the ranking stays the ranking by absolute watts.
/// Hosts without a power model count as linear over that range. Load past a host's capacity costs the full range per
/// 100 % (the table itself stops at 100 %).
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
        var after = (s.CpuUsedMhz[h] + d.CpuMhzOn(h, s)) / cap;
        var model = s.Hosts[h].PowerModel;
        // Demand beyond the host's capacity is not free because its power table stops at 100 %: the overflow
        // counts at the table's full-range rate, so a host already past its capacity is never the cheap choice.
        var overflow = Math.Max(0, after - Math.Max(now, 1));
        var delta = model is null
            ? Math.Min(1, after) - Math.Min(1, now) + overflow
            : (model.At(after) - model.At(now) + overflow * (model.MaxWatts - model.IdleWatts)) / s.PowerRangeWatts;
        return Math.Clamp(1 - delta, 0, 1);
    }
}
