namespace KvmCluster.Hosting.Facts;

/// <summary>Reads a process's memory from /proc/PID/status (Linux's own accounting, in KiB).</summary>
public static class ProcessStatus
{
    /// <summary>RssAnon + HugetlbPages: what the process holds in anonymous and hugetlbfs pages; null when unreadable.</summary>
    public static long? ResidentKiB(int pid)
    {
        string[] lines;
        try { lines = File.ReadAllLines($"/proc/{pid}/status"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        long? anon = null;
        long huge = 0;
        foreach (var line in lines)
        {
            if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = Kib(line);
            else if (line.StartsWith("HugetlbPages:", StringComparison.Ordinal)) huge = Kib(line) ?? 0;
        }
        return anon is { } a ? a + huge : null;
    }

    private static long? Kib(string line)
    {
        var parts = line.Split(':', 2)[1].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length > 0 && long.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : null;
    }
}
