namespace KvmCluster.Policies.Tests.Documents;

/// <summary>
/// A part of a document in docs/ that is made from the code, between <see cref="Begin"/> and <see cref="End"/>. A test
/// fails when it is stale; <c>KVMCLUSTER_WRITE_DOCS=1 dotnet test</c> writes it again.
/// </summary>
internal static class GeneratedDocs
{
    public const string Begin = "<!-- generated from the code by the tests: KVMCLUSTER_WRITE_DOCS=1 dotnet test rewrites it -->";
    public const string End = "<!-- end of generated part -->";

    public static void Check(string relativePath, string generated)
    {
        var path = Path.Combine(RepoRoot.Find(), relativePath);
        var text = File.ReadAllText(path);
        var from = text.IndexOf(Begin, StringComparison.Ordinal);
        var to = text.IndexOf(End, StringComparison.Ordinal);
        Assert.True(from >= 0 && to > from, $"{relativePath} has no generated part ({Begin} … {End})");
        var current = text[(from + Begin.Length)..to].Trim('\n');
        if (Environment.GetEnvironmentVariable("KVMCLUSTER_WRITE_DOCS") == "1")
        {
            File.WriteAllText(path, text[..(from + Begin.Length)] + "\n" + generated.Trim('\n') + "\n" + text[to..]);
            return;
        }
        Assert.True(current == generated.Trim('\n'),
            $"{relativePath} is stale: the code says otherwise. Run KVMCLUSTER_WRITE_DOCS=1 dotnet test --filter {nameof(GeneratedDocs)} and commit the file.\n--- expected ---\n{generated}");
    }

    /// <summary>A Markdown table cell: pipes escaped, line breaks folded.</summary>
    public static string Cell(string? s) => string.IsNullOrEmpty(s) ? "—" : s.Replace("|", "\\|", StringComparison.Ordinal).Replace('\n', ' ');
}
