using KvmCluster.Hosting.Drivers;
using KvmCluster.Policies.Model;
using KvmCluster.Sim.Engine;
using Host = KvmCluster.Policies.Model.Host;

namespace KvmCluster.Sim.Cluster;

/// <summary>
/// What the simulated hypervisors see during a replay: each host as the simulated datacenter has it now (type, power
/// state, free hugepages) and each guest's usage now — one sample, as a host agent measures it. The history is the host
/// grains' own: they keep what they sampled, exactly as on a live fleet.
/// </summary>
internal sealed class TraceWorld(SimDatacenter dc, SimOptions options) : ISimulatedWorld
{
    public Host Facts(string host) => SimFleetSnapshot.Host(dc, SimFleetSnapshot.HostIndex(host));

    public UsageSample Sample(string host, Guest guest) =>
        SimFleetSnapshot.Sample(dc.Vms[SimFleetSnapshot.VmIndex(guest.Name)], dc.Clock, options.DirtyMiBpsPerBusyVcpu);
}
