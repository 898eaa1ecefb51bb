namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>Picks the next VM to take off an overloaded host (Beloglazov–Buyya VM selection).</summary>
public interface IVmSelection
{
    string Name { get; }
    /// <summary>A VM not already migrating, or null when there is none.</summary>
    int? Select(IAdaptiveFleet fleet, int host);
}

internal static class Migratable
{
    public static List<int> On(IAdaptiveFleet fleet, int host) => fleet.VmsOn(host).Where(vm => !fleet.InMigration(vm)).ToList();
}
