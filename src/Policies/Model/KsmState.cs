namespace KvmCluster.Policies.Model;

/// <summary>Kernel same-page merging (/sys/kernel/mm/ksm): run flag and pages_sharing.</summary>
public sealed record KsmState(bool Enabled, long PagesSharing = 0)
{
    public static readonly KsmState Off = new(false);
    public long SharedMiB => PagesSharing * 4 / 1024;
}
