namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>Decides whether a host is overloaded (Beloglazov–Buyya overload detection).</summary>
public interface IOverloadDetector
{
    string Name { get; }
    bool IsOverloaded(IAdaptiveFleet fleet, int host);
}
