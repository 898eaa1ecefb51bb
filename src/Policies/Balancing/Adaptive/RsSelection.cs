namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>RS: a VM chosen at random — from a seeded generator, so runs are reproducible (CloudSim's is unseeded).</summary>
public sealed class RsSelection(Random random) : IVmSelection
{
    public string Name => "RS";

    public int? Select(IAdaptiveFleet fleet, int host)
    {
        var vms = Migratable.On(fleet, host);
        return vms.Count == 0 ? null : vms[random.Next(vms.Count)];
    }
}
