namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>MU: the VM with the lowest CPU utilisation (first in host order on ties).</summary>
public sealed class MuSelection : IVmSelection
{
    public string Name => "MU";

    public int? Select(IAdaptiveFleet fleet, int host)
    {
        int? best = null;
        var min = double.MaxValue;
        foreach (var vm in Migratable.On(fleet, host))
        {
            var u = fleet.VmCurrentMips(vm) / fleet.VmMips(vm);
            if (u < min) { min = u; best = vm; }
        }
        return best;
    }
}
