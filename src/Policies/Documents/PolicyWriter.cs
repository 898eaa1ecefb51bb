using System.Globalization;
using KvmCluster.Policies.Rules;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KvmCluster.Policies.Documents;

/// <summary>Writes a policy back as a complete YAML document: every field of <see cref="PolicySchema"/>, defaults filled in.</summary>
public static class PolicyWriter
{
    public static string ToYaml(Rules.Policy p)
    {
        var doc = PolicySchema.Document.Write(p);
        // Built as a YAML node tree and saved: no reflection, so it also works in the NativeAOT build.
        var stream = new YamlStream(new YamlDocument(Node(doc)));
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        stream.Save(writer, assignAnchors: false);
        var text = writer.ToString();
        // YamlStream ends a document with "...", which a policy file does not need.
        if (text.EndsWith("...\n", StringComparison.Ordinal)) text = text[..^4];
        return text;
    }

    private static YamlNode Node(object? value) => value switch
    {
        null => new YamlScalarNode("null") { Style = ScalarStyle.Plain },
        IDictionary<string, object?> map => new YamlMappingNode(map.Select(kv => new KeyValuePair<YamlNode, YamlNode>(new YamlScalarNode(kv.Key), Node(kv.Value)))),
        IDictionary<string, string> map => new YamlMappingNode(map.Select(kv => new KeyValuePair<YamlNode, YamlNode>(new YamlScalarNode(kv.Key), Node(kv.Value)))),
        System.Collections.IEnumerable list and not string => new YamlSequenceNode(list.Cast<object?>().Select(Node)),
        bool b => new YamlScalarNode(b ? "true" : "false") { Style = ScalarStyle.Plain },
        double d => new YamlScalarNode(Num(d)) { Style = ScalarStyle.Plain },
        IFormattable f => new YamlScalarNode(f.ToString(null, CultureInfo.InvariantCulture)) { Style = ScalarStyle.Plain },
        _ => new YamlScalarNode(value.ToString()!),
    };

    internal static string Num(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
