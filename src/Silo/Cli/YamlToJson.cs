using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KvmCluster.Silo.Cli;

/// <summary>
/// A YAML guest spec as the JSON the API reads (YAML 1.2's core schema: plain true/false, null, integers and floats are
/// typed, everything else is a string), so `kvmcluster define -f web-1.yaml` works as the JSON file does and the
/// server's strict reading names the same fields.
/// </summary>
public static partial class YamlToJson
{
    [GeneratedRegex("^[-+]?[0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex Integer();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Float();

    public static bool IsYaml(string file) => file.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || file.EndsWith(".yml", StringComparison.OrdinalIgnoreCase);

    public static string Convert(string yaml, string file)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(yaml)); }
        catch (YamlException e) { throw new Hosting.UsageException($"{file}:{e.Start.Line}:{e.Start.Column}: {e.InnerException?.Message ?? e.Message}"); }
        if (stream.Documents.Count != 1) throw new Hosting.UsageException($"{file}: expected one YAML document");
        return Node(stream.Documents[0].RootNode, file)?.ToJsonString() ?? "null";
    }

    private static JsonNode? Node(YamlNode node, string file) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(kv => new KeyValuePair<string, JsonNode?>(
            kv.Key is YamlScalarNode { Value: { } k } ? k : throw new Hosting.UsageException($"{file}:{kv.Key.Start.Line}: keys must be plain strings"),
            Node(kv.Value, file)))),
        YamlSequenceNode seq => new JsonArray([.. seq.Children.Select(c => Node(c, file))]),
        YamlScalarNode s => Scalar(s),
        _ => throw new Hosting.UsageException($"{file}:{node.Start.Line}: aliases and tags are not read here"),
    };

    private static JsonNode? Scalar(YamlScalarNode s)
    {
        var v = s.Value ?? "";
        if (s.Style != ScalarStyle.Plain) return JsonValue.Create(v);
        if (v is "" or "~" or "null" or "Null" or "NULL") return null;
        if (v is "true" or "True" or "TRUE") return JsonValue.Create(true);
        if (v is "false" or "False" or "FALSE") return JsonValue.Create(false);
        if (Integer().IsMatch(v) && long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l)) return JsonValue.Create(l);
        if (Float().IsMatch(v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return JsonValue.Create(d);
        return JsonValue.Create(v);
    }
}
