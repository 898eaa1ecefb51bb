namespace KvmCluster.Hosting.Facts;

/// <summary>One line of /proc/mounts: what is mounted where, with which filesystem type.</summary>
public sealed record Mount(string Source, string Path, string Type)
{
    /// <summary>The kernel's mount table (spaces and tabs in paths are octal escapes there).</summary>
    public static IEnumerable<Mount> Read(string file = "/proc/mounts")
    {
        if (!File.Exists(file)) yield break;
        foreach (var line in File.ReadLines(file))
        {
            var f = line.Split(' ');
            if (f.Length >= 3) yield return new Mount(Unescape(f[0]), Unescape(f[1]), f[2]);
        }
    }

    private static string Unescape(string s) => s.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal);
}
