using System.ComponentModel;
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

public sealed record GuestDisk(
    [property: Description("shared (an image on shared storage), overlay (a local qcow2 overlay on a backing image every host keeps) or local (copied whole by a block migration, if the policy allows).")] DiskKind Kind,
    [property: Description("Shared: where the storage is mounted on every host.")] string? MountPath = null,
    [property: Description("Shared: the export behind the mount (server:/path); the destination must mount the same one.")] string? Export = null,
    [property: Description("Shared: the image file under the mount. Overlay: the backing image's path on every host.")] string? Image = null,
    [property: Description("Local: the disk's size. Overlay: its size (0: the backing image's).")] long SizeGiB = 0,
    [property: Description("Data a local or overlay disk holds, as its host last reported it (0: not reported).")] long UsedMiB = 0)
{
    /// <summary>
    /// What moving the guest copies of this disk: the data it holds as reported, else a local disk's whole size (a
    /// bound); an overlay's data is unknown until its host reports it; a shared disk is not copied.
    /// </summary>
    public long CopiedMiB => !IsCopiedOnMigration ? 0 : UsedMiB > 0 ? UsedMiB : Kind == DiskKind.Local ? SizeGiB * 1024 : 0;

    /// <summary>A live migration copies this disk to the destination (only what the overlay holds, for an overlay).</summary>
    public bool IsCopiedOnMigration => Kind != DiskKind.Shared;

    /// <summary>What a disk must hold to reach QEMU: the paths its kind needs, sizes within <see cref="ModelLimits"/>.</summary>
    public IEnumerable<(string Field, string Message)> Problems()
    {
        if (Kind == DiskKind.Shared && string.IsNullOrWhiteSpace(MountPath)) yield return ("mountPath", "a shared disk needs the mount path its image is under");
        if (MountPath is not null && !SafePath.IsAbsolute(MountPath)) yield return ("mountPath", $"'{MountPath}' must be an absolute path of letters, digits and . _ / + -");
        if (Kind == DiskKind.Overlay && string.IsNullOrWhiteSpace(Image)) yield return ("image", "an overlay disk needs its backing image");
        if (Image is not null && Image.Length > 4096) yield return ("image", "at most 4096 characters");
        if (Export is not null && Export.Length > 4096) yield return ("export", "at most 4096 characters");
        if (SizeGiB is < 0 or > ModelLimits.MaxDiskGiB) yield return ("sizeGiB", $"must be 0..{ModelLimits.MaxDiskGiB} (1 PiB), got {SizeGiB}");
        if (UsedMiB < 0 || UsedMiB > ModelLimits.MaxDiskGiB * 1024) yield return ("usedMiB", $"must be 0..{ModelLimits.MaxDiskGiB * 1024}, got {UsedMiB}");
    }

    public override string ToString() => Kind switch
    {
        DiskKind.Shared => $"shared {MountPath}" + (Export is null ? "" : $" ({Export})"),
        DiskKind.Overlay => $"overlay on {Image}",
        _ => $"local {SizeGiB} GiB",
    };
}
