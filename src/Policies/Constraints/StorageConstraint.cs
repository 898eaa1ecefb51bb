using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Constraints;

/// <summary>
/// Shared disks need the same mount path backed by the same export on the destination (the source's export
/// when migrating); overlay disks need their backing image present; local disks need free local space, and
/// moving them needs the policy to allow block migration (a full copy of the disk).
/// </summary>
public sealed class StorageConstraint : IStaticConstraint, IDynamicConstraint
{
    public static readonly StorageConstraint Instance = new();
    public string Id => "storage";

    public string? Check(in StaticInput x)
    {
        var problems = new List<string>();
        var mounts = x.Host.Storage.Mounts;
        foreach (var disk in x.Guest.Disks)
        {
            switch (disk.Kind)
            {
                case DiskKind.Shared:
                    var path = disk.MountPath!;
                    var wanted = disk.Export ?? (x.Source?.Storage.Mounts.GetValueOrDefault(path));
                    if (!mounts.TryGetValue(path, out var export))
                        problems.Add($"{path} is not mounted on {StaticInput.HostToken}");
                    else if (wanted is not null && export != wanted)
                        problems.Add($"{path} on {StaticInput.HostToken} is {export}, guest's disk is on {wanted}");
                    break;
                case DiskKind.Overlay:
                    if (!x.Host.Storage.BackingImages.Contains(disk.Image!))
                        problems.Add($"backing image {disk.Image} is not on {StaticInput.HostToken}");
                    break;
                case DiskKind.Local:
                    // Offline, a paused guest's disks are copied whatever the policy says of live block migration.
                    if (x.Source is not null && !x.Policy.Migration.AllowBlockMigration && !x.Policy.Migration.AllowOffline)
                        problems.Add($"local disk of {disk.SizeGiB} GiB needs block migration, which policy '{x.Policy.Name}' does not allow");
                    break;
            }
        }
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }

    public bool AppliesTo(GuestDemand d) => d.LocalDiskGiB > 0;

    public bool Admits(GuestDemand d, int h, PlacementState s) => s.LocalDiskFreeGiB[h] >= d.LocalDiskGiB;

    public string Explain(GuestDemand d, int h, PlacementState s) =>
        $"guest needs {d.LocalDiskGiB} GiB of local disk, host {s.Hosts[h].Name} has {s.LocalDiskFreeGiB[h]} GiB free";
}
