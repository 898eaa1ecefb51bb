namespace KvmCluster.Sim.Traces;

/// <summary>Listing a trace directory: named errors for a missing or empty one, ordinal name order.</summary>
internal static class TraceFiles
{
    public static List<string> List(string directory, string kind, Func<string, bool> include)
    {
        if (File.Exists(directory)) throw new TraceException(directory, 0, $"is a file; a {kind} trace is a directory of per-VM files");
        if (!Directory.Exists(directory)) throw new TraceException(directory, 0, $"the {kind} trace directory does not exist");
        // Absolute paths, so opening each file does not ask for the working directory again.
        var files = Directory.GetFiles(Path.GetFullPath(directory))
            .Where(f => !Path.GetFileName(f).StartsWith('.') && include(f))
            .OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new TraceException(directory, 0, $"the {kind} trace directory has no trace files");
        return files;
    }

    public static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
