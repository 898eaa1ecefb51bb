namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>Decides whether a host is overloaded (Beloglazov–Buyya overload detection).</summary>
public interface IOverloadDetector
{
    string Name { get; }

    /// <summary>
    /// Whether <paramref name="host"/> is overloaded — with <paramref name="extraVm"/> (≥ 0) counted as if it had
    /// just been placed there, which is how PABFD asks "would it be overloaded after this placement?".
    /// </summary>
    bool IsOverloaded(IAdaptiveFleet fleet, int host, int extraVm = -1);
}
