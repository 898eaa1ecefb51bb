using System.Text;
using KvmCluster.Policies.Documents;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Tests.Documents;

/// <summary>The policy reference (docs/policy-reference.md) is made from the policy schema the reader and writer walk.</summary>
public sealed class PolicyReferenceTests
{
    [Fact]
    public void Every_option_says_what_it_means_and_the_writer_writes_exactly_what_the_reader_reads()
    {
        var options = PolicyDocument.Options();
        Assert.All(options, o => Assert.False(string.IsNullOrWhiteSpace(o.Option.About), $"{o.Option.Path} has no meaning"));
        Assert.Contains(options, o => o.Option.Path == "filters[].maxGuestsPerHost");
        Assert.Contains(options, o => o.Option.Path == "migration.maxConcurrent" && o.Default == "5" && o.Option.Range == "1 … 10000");

        // Everything the writer writes of a policy is something the reader reads, and the other way round.
        var every = Policy.Default with { Description = "d" };
        var written = PolicyDocument.Flatten(PolicyWriter.ToYaml(every)).Keys.Where(k => k != "filters").Order(StringComparer.Ordinal);
        var read = options.Select(o => o.Option).Where(o => o.Kind is not ("mapping" or "list of mappings") && !o.Path.StartsWith("filters", StringComparison.Ordinal))
            .Select(o => o.Path).Order(StringComparer.Ordinal);
        Assert.Equal(read, written);
    }

    [Fact]
    public void The_policy_reference_is_the_one_the_schema_makes() => GeneratedDocs.Check("docs/policy-reference.md", Render());

    private static string Render()
    {
        var b = new StringBuilder();
        b.Append("| option | takes | default | meaning |\n|---|---|---|---|\n");
        foreach (var (o, d) in PolicyDocument.Options())
        {
            var takes = o.Range is null ? o.Kind : $"{o.Kind} {o.Range}";
            var indent = o.Kind is "mapping" or "list of mappings" ? $"**`{o.Path}`**" : $"`{o.Path}`";
            b.Append($"| {indent} | {GeneratedDocs.Cell(takes)} | {GeneratedDocs.Cell(d is null || o.Kind.EndsWith("required", StringComparison.Ordinal) ? null : $"`{d}`")} | {GeneratedDocs.Cell(o.About)} |\n");
        }
        return b.ToString();
    }
}
