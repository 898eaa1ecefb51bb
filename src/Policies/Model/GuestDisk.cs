namespace KvmCluster.Policies.Model;

public enum DiskKind
{
    /// <summary>Image on shared storage: the destination needs the same mount path backed by the same export.</summary>
    Shared,
    /// <summary>A local qcow2 overlay on a backing image: the destination needs the image; only the overlay is copied.</summary>
    Overlay,
    /// <summary>A local disk: moving the guest copies it all (block migration), only if the policy allows.</summary>
    Local,
}

public sealed record GuestDisk(DiskKind Kind, string? MountPath = null, string? Export = null, string? Image = null, long SizeGiB = 0)
{
    public override string ToString() => Kind switch
    {
        DiskKind.Shared => $"shared {MountPath}" + (Export is null ? "" : $" ({Export})"),
        DiskKind.Overlay => $"overlay on {Image}",
        _ => $"local {SizeGiB} GiB",
    };
}
