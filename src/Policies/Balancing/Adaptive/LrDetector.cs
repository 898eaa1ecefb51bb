namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>
/// LR(s): fits a line to the last 10 host-utilisation samples (oldest to newest at x = 1..10), predicts the
/// utilisation one migration later, and calls the host overloaded when s × prediction ≥ 1. Falls back to a
/// static threshold with fewer than 10 samples. (CloudSim's "loess" weights are never applied; this is OLS.)
/// </summary>
public class LrDetector(double safety, IOverloadDetector fallback, double sampleIntervalSeconds) : IOverloadDetector
{
    public const int Window = 10;
    public double Safety { get; } = safety;
    public virtual string Name => $"LR({Safety})";

    public bool IsOverloaded(IAdaptiveFleet fleet, int host, int extraVm = -1) =>
        Predict(fleet, host, extraVm) is { } p ? p >= 1 : fallback.IsOverloaded(fleet, host, extraVm);

    /// <summary>s × predicted utilisation, or null when there is too little history.</summary>
    public double? Predict(IAdaptiveFleet fleet, int host, int extraVm = -1)
    {
        Span<double> history = stackalloc double[Window];
        if (!HostHistory.FillWindow(fleet, host, extraVm, history)) return null;
        Span<double> oldestFirst = stackalloc double[Window];
        for (var i = 0; i < Window; i++) oldestFirst[i] = history[Window - i - 1];
        var (intercept, slope) = Estimate(oldestFirst);
        if (double.IsNaN(intercept) || double.IsNaN(slope)) return null;
        var migrationIntervals = Math.Ceiling(HostHistory.MaxMigrationSeconds(fleet, host, extraVm) / sampleIntervalSeconds);
        return Safety * (intercept + slope * (Window + migrationIntervals));
    }

    protected virtual (double Intercept, double Slope) Estimate(ReadOnlySpan<double> oldestFirst) => AdaptiveMath.LinearFit(oldestFirst);
}
