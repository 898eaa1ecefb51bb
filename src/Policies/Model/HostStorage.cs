using System.Collections.Immutable;

namespace KvmCluster.Policies.Model;

/// <summary>
/// Storage a host can offer guests: shared mounts (mount path → export, e.g. /var/lib/kvm/shared →
/// nfs1:/export/vm), backing images present locally, and free local disk for guests with local disks.
/// </summary>
public sealed record HostStorage
{
    public ImmutableSortedDictionary<string, string> Mounts { get; init; } = ImmutableSortedDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal);
    public ImmutableSortedSet<string> BackingImages { get; init; } = ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal);
    public long LocalFreeGiB { get; init; }

    public static readonly HostStorage None = new();
}
