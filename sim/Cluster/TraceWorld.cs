using KvmCluster.Policies.Model;
using KvmCluster.Silo.Drivers;
using KvmCluster.Sim.Engine;
using Host = KvmCluster.Policies.Model.Host;

namespace KvmCluster.Sim.Cluster;

/// <summary>
/// What the simulated hypervisors report during a replay: each host as the simulated datacenter has it now (type,
/// power state, free hugepages) and each guest's measured CPU history — the same records a direct replay's fleet
/// snapshot holds.
/// </summary>
internal sealed class TraceWorld(SimDatacenter dc) : ISimulatedWorld
{
    public Host Facts(string host) => SimFleetSnapshot.Host(dc, SimFleetSnapshot.HostIndex(host));

    public UsageHistory Usage(string host, Guest guest) =>
        SimFleetSnapshot.Guest(dc.Vms[SimFleetSnapshot.VmIndex(guest.Name)], host).Usage;
}
