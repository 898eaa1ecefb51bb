using KvmCluster.Policies.Model;
using Host = KvmCluster.Policies.Model.Host;

namespace KvmCluster.Silo.Drivers;

/// <summary>
/// What a simulated hypervisor pretends to be: its host's facts and its guests' usage. By default a fixed host from
/// <see cref="SimulatedDriverOptions"/> with a constant load; a kvmsim replay puts the trace's datacenter behind it.
/// </summary>
public interface ISimulatedWorld
{
    Host Facts(string host);
    UsageHistory Usage(string host, Guest guest);
}
