namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>MMT: the VM with the least RAM, i.e. the shortest migration (first in host order on ties).</summary>
public sealed class MmtSelection : IVmSelection
{
    public string Name => "MMT";

    public int? Select(IAdaptiveFleet fleet, int host)
    {
        int? best = null;
        var min = double.MaxValue;
        foreach (var vm in Migratable.On(fleet, host))
        {
            var ram = fleet.VmRam(vm);
            if (ram < min) { min = ram; best = vm; }
        }
        return best;
    }
}
