namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>THR(t): overloaded when the VMs' requested CPU exceeds t of the host's capacity.</summary>
public sealed class ThrDetector(double threshold) : IOverloadDetector
{
    public double Threshold { get; } = threshold;
    public string Name => $"THR({Threshold})";

    public bool IsOverloaded(IAdaptiveFleet fleet, int host, int extraVm = -1) =>
        HostHistory.RequestedUtilization(fleet, host, extraVm) > Threshold;
}
