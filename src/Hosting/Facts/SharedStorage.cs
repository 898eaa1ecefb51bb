using System.Collections.Immutable;
using KvmCluster.Policies.Model;

namespace KvmCluster.Hosting.Facts;

/// <summary>
/// The storage a hypervisor offers guests: shared filesystems (from /proc/mounts: NFS, CIFS, GlusterFS, CephFS,
/// OCFS2, GFS2) plus the directories the operator declares shared (KvmCluster:Qemu:SharedMounts), and the free space
/// of the state directory's filesystem for local disks.
/// </summary>
public static class SharedStorage
{
    private static readonly HashSet<string> Shared = ["nfs", "nfs4", "cifs", "smb3", "glusterfs", "fuse.glusterfs", "ceph", "fuse.ceph", "ocfs2", "gfs2"];

    public static HostStorage Discover(IEnumerable<string> declared, string stateDirectory, string mountsFile = "/proc/mounts")
    {
        var mounts = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var m in Mount.Read(mountsFile).Where(m => Shared.Contains(m.Type))) mounts[m.Path] = m.Source;
        foreach (var path in declared) mounts[path.TrimEnd('/')] = "declared shared";
        long free = 0;
        try { free = new DriveInfo(Path.GetFullPath(stateDirectory)).AvailableFreeSpace / (1024L * 1024 * 1024); } catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException) { }
        return new HostStorage { Mounts = mounts.ToImmutable(), LocalFreeGiB = free };
    }
}
