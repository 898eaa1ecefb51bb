namespace KvmCluster.Silo.Tests.Docs;

/// <summary>
/// The part of a document in docs/ that is made from the code (between <see cref="Begin"/> and <see cref="End"/>):
/// a test fails when it is stale; <c>KVMCLUSTER_WRITE_DOCS=1 dotnet test</c> writes it again.
/// </summary>
internal static class GeneratedDocs
{
    public const string Begin = "<!-- generated from the code by the tests: KVMCLUSTER_WRITE_DOCS=1 dotnet test rewrites it -->";
    public const string End = "<!-- end of generated part -->";

    public static string Root()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "KvmCluster.sln"))) root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("repository root not found");
        return root;
    }

    public static void Check(string relativePath, string generated)
    {
        var path = Path.Combine(Root(), relativePath);
        var text = File.ReadAllText(path);
        var from = text.IndexOf(Begin, StringComparison.Ordinal);
        var to = text.IndexOf(End, StringComparison.Ordinal);
        Assert.True(from >= 0 && to > from, $"{relativePath} has no generated part");
        if (Environment.GetEnvironmentVariable("KVMCLUSTER_WRITE_DOCS") == "1")
        {
            File.WriteAllText(path, text[..(from + Begin.Length)] + "\n" + generated.Trim('\n') + "\n" + text[to..]);
            return;
        }
        Assert.True(text[(from + Begin.Length)..to].Trim('\n') == generated.Trim('\n'),
            $"{relativePath} is stale. Run KVMCLUSTER_WRITE_DOCS=1 dotnet test --filter Docs and commit it.\n--- expected ---\n{generated}");
    }
}
