namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>
/// IQR(s): the threshold is 1 − s × IQR of the host's utilisation history; it needs 12 samples, and falls
/// back to a static threshold before that.
/// </summary>
public sealed class IqrDetector(double safety, IOverloadDetector fallback) : IOverloadDetector
{
    public string Name => $"IQR({safety})";

    public bool IsOverloaded(IAdaptiveFleet fleet, int host, int extraVm = -1)
    {
        var history = HostHistory.Of(fleet, host, extraVm);
        if (history.Length < 12) return fallback.IsOverloaded(fleet, host, extraVm);
        return HostHistory.RequestedUtilization(fleet, host, extraVm) > 1 - safety * AdaptiveMath.Iqr(history);
    }
}
