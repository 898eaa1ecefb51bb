namespace KvmCluster.Grains.Ports;

/// <summary>
/// The hypervisors this silo runs: exactly one on a real host (the silo runs on it), several when one silo simulates
/// a fleet (benchmarks, kvmsim replays). A host grain asks for its own by name.
/// </summary>
public interface IHypervisors
{
    IHypervisor For(string host);
}
