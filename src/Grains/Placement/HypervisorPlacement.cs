using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace KvmCluster.Grains.Placement;

/// <summary>
/// Places a grain keyed by a hypervisor name on the silo that runs on that hypervisor, and nowhere else: a host
/// grain must talk to its own QEMU processes. The built-in metadata filter compares the caller's metadata, not the
/// grain key, so it cannot express this.
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("kvm.HypervisorPlacement")]
public sealed class HypervisorPlacementStrategy : PlacementStrategy
{
    public static readonly HypervisorPlacementStrategy Instance = new();
}

[AttributeUsage(AttributeTargets.Class)]
public sealed class HypervisorPlacementAttribute() : PlacementAttribute(HypervisorPlacementStrategy.Instance);

public sealed class HypervisorPlacementDirector(ISiloMetadataCache metadata) : IPlacementDirector
{
    public const string MetadataKey = "hypervisor";

    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var wanted = target.GrainIdentity.Key.ToString();
        foreach (var silo in context.GetCompatibleSilos(target))
            if (metadata.GetSiloMetadata(silo).Metadata.TryGetValue(MetadataKey, out var hv) && Runs(hv, wanted))
                return Task.FromResult(silo);
        // Refuse rather than activate elsewhere: a host grain away from its hypervisor would report a host it cannot see.
        throw new OrleansException($"no live silo runs hypervisor '{wanted}'; refusing to place {target.GrainIdentity}");
    }

    /// <summary>The metadata value is one hypervisor name, or several separated by commas (a simulated fleet).</summary>
    private static bool Runs(string value, string wanted)
    {
        foreach (var range in value.AsSpan().Split(','))
            if (value.AsSpan()[range].SequenceEqual(wanted)) return true;
        return false;
    }
}

public static class HypervisorPlacementExtensions
{
    /// <summary>
    /// Every silo registers the director and announces the hypervisors it runs: its own, or the names of a simulated
    /// fleet (host names never contain commas).
    /// </summary>
    public static ISiloBuilder AddHypervisorPlacement(this ISiloBuilder silo, IReadOnlyCollection<string> hypervisors)
    {
        silo.UseSiloMetadata(new Dictionary<string, string> { [HypervisorPlacementDirector.MetadataKey] = string.Join(',', hypervisors) });
        silo.Services.AddPlacementDirector<HypervisorPlacementStrategy, HypervisorPlacementDirector>();
        return silo;
    }
}
