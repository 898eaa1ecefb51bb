using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>Builds the detector and selection a policy names (thr/iqr/mad/lr/lrr × mmt/mc/rs/mu).</summary>
public static class AdaptiveFactory
{
    public static AdaptiveOptimizer Create(AdaptiveSettings s, double sampleIntervalSeconds, Random random)
    {
        var fallback = new ThrDetector(s.FallbackThreshold);
        IOverloadDetector detector = s.Detector switch
        {
            OverloadDetector.Thr => new ThrDetector(s.Parameter),
            OverloadDetector.Iqr => new IqrDetector(s.Parameter, fallback),
            OverloadDetector.Mad => new MadDetector(s.Parameter, fallback),
            OverloadDetector.Lr => new LrDetector(s.Parameter, fallback, sampleIntervalSeconds),
            _ => new LrrDetector(s.Parameter, fallback, sampleIntervalSeconds),
        };
        IVmSelection selection = s.Selection switch
        {
            VmSelection.Mmt => new MmtSelection(),
            VmSelection.Mc => new McSelection(new MmtSelection()),
            VmSelection.Rs => new RsSelection(random),
            _ => new MuSelection(),
        };
        return new AdaptiveOptimizer(detector, selection);
    }
}
