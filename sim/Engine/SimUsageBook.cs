using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Sim.Engine;

/// <summary>
/// Every running VM's usage history for the live planner, kept exactly as a host grain keeps its guests': one sample
/// per update (what a host agent would measure then), appended with the core's <see cref="UsageHistory.Append"/>, as
/// many as the policy reads (<see cref="UsageWindow"/>), following the VM when it migrates. A replay through the
/// cluster has its host grains do the same from the same datacenter, so both see the same windows.
/// </summary>
internal sealed class SimUsageBook(SimDatacenter dc, Policy policy, SimOptions options)
{
    private readonly Dictionary<int, UsageHistory> _usage = [];
    private readonly int _keep = UsageWindow.Samples(policy, options.Interval);

    public UsageHistory Of(int vm) => _usage.GetValueOrDefault(vm, UsageHistory.Empty);

    public void Sample()
    {
        var running = new HashSet<int>();
        foreach (var vm in dc.Vms)
        {
            if (vm.Host < 0 || vm.Gone) continue;
            running.Add(vm.Id);
            _usage[vm.Id] = Of(vm.Id).Append(SimFleetSnapshot.Sample(vm, dc.Clock, options.DirtyMiBpsPerBusyVcpu), _keep);
        }
        foreach (var gone in _usage.Keys.Where(v => !running.Contains(v)).ToList()) _usage.Remove(gone);
    }

    public FleetSnapshot Snapshot() => SimFleetSnapshot.Build(dc, options.Interval, Of);
}
