namespace KvmCluster.Policies.Model;

/// <summary>
/// One hugepage pool of a host (/sys/kernel/mm/hugepages/hugepages-&lt;size&gt;kB).
/// <see cref="Reserved"/> counts pages promised to guests that have not faulted them in yet
/// (HugePages_Rsvd plus the scheduler's pending placements), so only Free − Reserved can be given out.
/// </summary>
public sealed record HugepagePool(int PageSizeKiB, int Total, int Free, int Reserved = 0)
{
    public int Available => Math.Max(0, Free - Reserved);
    public long TotalMiB => (long)Total * PageSizeKiB / 1024;

    public const int Size2M = 2048;
    public const int Size1G = 1024 * 1024;

    public static string DescribeSize(int pageSizeKiB) => pageSizeKiB switch
    {
        >= 1024 * 1024 when pageSizeKiB % (1024 * 1024) == 0 => $"{pageSizeKiB / (1024 * 1024)} GiB",
        >= 1024 when pageSizeKiB % 1024 == 0 => $"{pageSizeKiB / 1024} MiB",
        _ => $"{pageSizeKiB} KiB",
    };
}
