using System.Text.RegularExpressions;

namespace KvmCluster.Policies.Model;

/// <summary>A path that may reach QEMU's command line or the file system: absolute, plain characters, no "..".</summary>
public static partial class SafePath
{
    [GeneratedRegex("^/[A-Za-z0-9._/+-]{0,4095}$", RegexOptions.CultureInvariant)]
    private static partial Regex Absolute();

    public static bool IsAbsolute(string path) =>
        Absolute().IsMatch(path) && !path.Contains("/../", StringComparison.Ordinal) && !path.EndsWith("/..", StringComparison.Ordinal);
}
