using System.Collections.Immutable;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Documents;

/// <summary>
/// Reads policy documents (YAML or JSON). Unknown keys and out-of-range values are errors with
/// file:line:column and the field path; nothing is silently clamped or ignored.
/// </summary>
public static class PolicyDocument
{
    /// <summary>Parses a policy; throws <see cref="DocumentException"/> listing every problem.</summary>
    public static Rules.Policy Parse(string text, string file = "<policy>")
    {
        var doc = new DocumentContext(file);
        var root = MapReader.Of(doc, doc.Load(text), "");
        var policy = root is null ? null : Read(root);
        doc.ThrowIfErrors();
        return policy!;
    }

    /// <summary>
    /// Every option a policy document may hold, in the schema's order (<see cref="PolicySchema"/>), with what it takes,
    /// its default (what a document that leaves it out gets) and what it means, recorded by reading a document the
    /// writer made with every option once; docs/policy-reference.md is made from it.
    /// </summary>
    public static IReadOnlyList<(DocumentOption Option, string? Default)> Options()
    {
        var every = new Rules.Policy
        {
            Name = "reference",
            Description = "every option once",
            Filters =
            [
                new RequireHostLabelsFilter(ImmutableSortedDictionary<string, string>.Empty.Add("zone", "a")),
                new ExcludeHostsFilter(ImmutableSortedSet.Create(StringComparer.Ordinal, "hv-00")),
                new MaxGuestsPerHostFilter(1),
                new MaxHostCpuFilter(50),
            ],
        };
        var doc = new DocumentContext("<reference>") { Options = new Dictionary<string, DocumentOption>(StringComparer.Ordinal) };
        if (MapReader.Of(doc, doc.Load(PolicyWriter.ToYaml(every)), "") is { } root) Read(root);
        doc.ThrowIfErrors();
        var maps = doc.Options.Values.Where(o => o.Kind == "string → string").Select(o => o.Path + ".").ToList();
        var defaults = Flatten(PolicyWriter.ToYaml(Parse("name: defaults\n")));
        return [.. doc.Options.Values
            .Where(o => !maps.Any(o.Path.StartsWith)) // the labels inside a label map are not options
            .Select(o => (o, defaults.GetValueOrDefault(o.Path)))];
    }

    /// <summary>The scalar values of a YAML document by dotted path (an empty list as []).</summary>
    internal static Dictionary<string, string> Flatten(string yaml)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var stream = new YamlDotNet.RepresentationModel.YamlStream();
        stream.Load(new StringReader(yaml));
        void Walk(YamlDotNet.RepresentationModel.YamlNode node, string path)
        {
            if (node is YamlDotNet.RepresentationModel.YamlMappingNode map)
                foreach (var (k, v) in map.Children) Walk(v, path.Length == 0 ? ((YamlDotNet.RepresentationModel.YamlScalarNode)k).Value! : $"{path}.{((YamlDotNet.RepresentationModel.YamlScalarNode)k).Value}");
            else if (node is YamlDotNet.RepresentationModel.YamlScalarNode { Value: { } value }) result[path] = value;
            else if (node is YamlDotNet.RepresentationModel.YamlSequenceNode { Children.Count: 0 }) result[path] = "[]";
        }
        Walk(stream.Documents[0].RootNode, "");
        return result;
    }

    private static Rules.Policy Read(MapReader m)
    {
        var policy = PolicySchema.Document.Read(m);
        if (m.Has("name") && GuestName.Problem(policy.Name) is not null)
            m.Error("name", $"'{policy.Name}' must match {GuestName.Pattern}");
        return policy;
    }
}
