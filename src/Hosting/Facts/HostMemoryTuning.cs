using System.Globalization;
using KvmCluster.Grains.Contracts;
using KvmCluster.Hosting.Processes;

namespace KvmCluster.Hosting.Facts;

/// <summary>
/// Applies <see cref="HostTuning"/> through the kernel's files (as root): the hugepage pool of a size
/// (/sys/kernel/mm/hugepages/hugepages-SIZEkB/nr_hugepages) and KSM (/sys/kernel/mm/ksm/run, pages_to_scan,
/// sleep_millisecs); and mounts hugetlbfs where guests' memory files go.
/// </summary>
public static class HostMemoryTuning
{
    public static async Task ApplyAsync(HostTuning t, string root = "/")
    {
        if (t.HugepagePages is { } pages)
        {
            var file = Path.Combine(root, $"sys/kernel/mm/hugepages/hugepages-{t.HugepageSizeKiB}kB/nr_hugepages");
            if (!File.Exists(file)) throw ClusterException.Invalid($"this host has no {t.HugepageSizeKiB} KiB hugepages ({file} is missing)", "hugepageSizeKiB");
            await Write(file, pages);
            var got = long.Parse((await File.ReadAllTextAsync(file)).Trim(), CultureInfo.InvariantCulture);
            // The kernel reserves what it can find contiguous: say so rather than pretend.
            if (got < pages) throw ClusterException.Conflict($"asked for {pages} hugepages of {t.HugepageSizeKiB} KiB, the kernel could reserve {got}");
        }
        var ksm = Path.Combine(root, "sys/kernel/mm/ksm");
        if (t.KsmPagesToScan is { } scan) await Write(Path.Combine(ksm, "pages_to_scan"), scan);
        if (t.KsmSleepMillisecs is { } sleep) await Write(Path.Combine(ksm, "sleep_millisecs"), sleep);
        if (t.KsmRun is { } run) await Write(Path.Combine(ksm, "run"), run ? 1 : 0);
        var thp = Path.Combine(root, "sys/kernel/mm/transparent_hugepage");
        foreach (var (value, file) in new[] { (t.ThpEnabled, "enabled"), (t.ThpDefrag, "defrag") })
        {
            if (value is null) continue;
            if (t.Problems().Any()) throw ClusterException.Invalid(t.Problems().First().Message, t.Problems().First().Field);
            await Write(Path.Combine(thp, file), value);
        }
    }

    private static Task Write(string file, long value) => Write(file, value.ToString(CultureInfo.InvariantCulture));

    private static async Task Write(string file, string value)
    {
        try { await File.WriteAllTextAsync(file, value); }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw ClusterException.Unavailable($"cannot write {file}: {e.Message} (the silo needs root for host memory settings)");
        }
    }

    /// <summary>Mounts hugetlbfs for a page size at <paramref name="directory"/> unless it already is one; true when it mounted.</summary>
    public static async Task<bool> EnsureHugetlbfsAsync(string directory, int pageSizeKiB)
    {
        var full = Path.GetFullPath(directory).TrimEnd('/');
        if (Mount.Read().Any(m => m.Path == full && m.Type == "hugetlbfs")) return false;
        Directory.CreateDirectory(full);
        var size = pageSizeKiB == 1048576 ? "1G" : "2M";
        var r = await ProcessRunner.RunAsync("mount", ["-t", "hugetlbfs", "-o", $"pagesize={size}", "none", full], TimeSpan.FromSeconds(10), CancellationToken.None);
        if (r.ExitCode != 0) throw ClusterException.Unavailable($"cannot mount hugetlbfs ({size} pages) at {full}: {r.Error}");
        return true;
    }

    public static Task UnmountAsync(string directory) =>
        ProcessRunner.RunAsync("umount", [Path.GetFullPath(directory)], TimeSpan.FromSeconds(10), CancellationToken.None);
}
