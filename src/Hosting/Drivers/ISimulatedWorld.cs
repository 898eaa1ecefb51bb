using KvmCluster.Policies.Model;
using Host = KvmCluster.Policies.Model.Host;

namespace KvmCluster.Hosting.Drivers;

/// <summary>
/// What a simulated hypervisor pretends to be: its host's facts and its guests' usage. By default a fixed host from
/// <see cref="SimulatedDriverOptions"/> with a constant or scripted load; a kvmsim replay puts the trace's datacenter
/// behind it.
/// </summary>
public interface ISimulatedWorld
{
    Host Facts(string host);

    /// <summary>The guest's next usage sample (the driver asks once per sample interval).</summary>
    UsageSample Sample(string host, Guest guest);
}
