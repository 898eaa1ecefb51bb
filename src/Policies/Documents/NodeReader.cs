using System.Collections.Immutable;
using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KvmCluster.Policies.Documents;

/// <summary>
/// Reads a YAML (or JSON, which YAML contains) document node by node, so every value keeps its
/// line, column and field path for error messages. Errors are collected, not thrown one by one.
/// </summary>
internal sealed class DocumentContext(string file)
{
    public string File { get; } = file;
    public List<DocumentError> Errors { get; } = [];

    /// <summary>
    /// When set, every option a reader asks for is written down here (path, kind, range, meaning), in the
    /// order asked: the reference documentation is generated from reading a document that holds every option once.
    /// </summary>
    public Dictionary<string, DocumentOption>? Options { get; init; }

    public void Describe(string path, string kind, string? range, string? about)
    {
        if (Options is null) return;
        var key = System.Text.RegularExpressions.Regex.Replace(path, @"\[\d+\]", "[]");
        // The outermost reader's call comes first (Int before the Long and String it calls): it says what the option is.
        if (!Options.ContainsKey(key)) Options[key] = new DocumentOption(key, kind, range, about ?? "");
    }

    public void Error(YamlNode node, string path, string message) => Error(node.Start, path, message);

    public void Error(Mark mark, string path, string message) =>
        Errors.Add(new DocumentError(File, (int)mark.Line, (int)mark.Column, path, message));

    /// <summary>Parses <paramref name="text"/> into its single root node, or records the syntax error.</summary>
    public YamlNode? Load(string text)
    {
        if (DocumentLimits.Check(text) is { } limit)
        {
            Error(limit.Mark, "", limit.Message);
            return null;
        }
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(text));
            if (stream.Documents.Count == 0)
            {
                Errors.Add(new DocumentError(File, 1, 1, "", "the document is empty"));
                return null;
            }
            if (stream.Documents.Count > 1)
            {
                Error(stream.Documents[1].RootNode, "", "expected one document, found several (remove the extra '---')");
                return null;
            }
            return stream.Documents[0].RootNode;
        }
        catch (YamlException e)
        {
            var message = e.InnerException is YamlException inner ? inner.Message : e.Message;
            // YamlDotNet prefixes the mark; keep only the sentence.
            var idx = message.IndexOf("): ", StringComparison.Ordinal);
            if (message.StartsWith('(') && idx > 0) message = message[(idx + 3)..];
            Error(e.Start, "", "syntax error: " + message);
            return null;
        }
    }

    public void ThrowIfErrors()
    {
        if (Errors.Count > 0) throw new DocumentException([.. Errors]);
    }
}

/// <summary>A mapping node being read: remembers which keys were used so unknown keys are reported.</summary>
internal sealed class MapReader
{
    private readonly YamlMappingNode _node;
    private readonly Dictionary<string, (YamlScalarNode Key, YamlNode Value)> _entries = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public DocumentContext Doc { get; }
    public string Path { get; }
    public YamlNode Node => _node;

    private MapReader(DocumentContext doc, YamlMappingNode node, string path)
    {
        Doc = doc;
        _node = node;
        Path = path;
        foreach (var (k, v) in node.Children)
        {
            if (k is not YamlScalarNode key || key.Value is null)
            {
                doc.Error(k, path, "keys must be plain strings");
                continue;
            }
            _entries[key.Value] = (key, v);
        }
    }

    public static MapReader? Of(DocumentContext doc, YamlNode? node, string path)
    {
        if (node is YamlMappingNode m) return new MapReader(doc, m, path);
        if (node is not null) doc.Error(node, path, $"expected a mapping (key: value), found {Describe(node)}");
        return null;
    }

    public string Child(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    public bool Has(string key) => _entries.ContainsKey(key) && !IsNull(_entries[key].Value);

    public YamlNode? Raw(string key)
    {
        _used.Add(key);
        if (!_entries.TryGetValue(key, out var e) || IsNull(e.Value)) return null;
        return e.Value;
    }

    public IEnumerable<string> Keys => _entries.Keys;

    public void Missing(string key) => Doc.Error(_node, Child(key), "is required");

    public string? String(string key, bool required = false, string? about = null)
    {
        if (Doc.Options is not null) Doc.Describe(Child(key), required ? "string, required" : "string", null, about);
        var node = Raw(key);
        if (node is null) { if (required) Missing(key); return null; }
        if (node is YamlScalarNode s) return s.Value;
        Doc.Error(node, Child(key), $"expected a string, found {Describe(node)}");
        return null;
    }

    public bool? Bool(string key, string? about = null)
    {
        if (Doc.Options is not null) Doc.Describe(Child(key), "boolean", null, about);
        var s = String(key);
        if (s is null) return null;
        switch (s.ToLowerInvariant())
        {
            case "true" or "yes" or "on": return true;
            case "false" or "no" or "off": return false;
            default:
                Doc.Error(Raw(key)!, Child(key), $"expected true or false, found '{s}'");
                return null;
        }
    }

    public long? Long(string key, long min = long.MinValue, long max = long.MaxValue, bool required = false, string? about = null)
    {
        if (Doc.Options is not null) Doc.Describe(Child(key), "integer", RangeText(min, max), about);
        var s = String(key, required);
        if (s is null) return null;
        if (!long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
        {
            Doc.Error(Raw(key)!, Child(key), $"expected an integer, found '{s}'");
            return null;
        }
        return InRange(key, v, min, max) ? v : null;
    }

    public int? Int(string key, int min = int.MinValue, int max = int.MaxValue, bool required = false, string? about = null)
    {
        if (Doc.Options is not null) Doc.Describe(Child(key), "integer", RangeText<long>(min is int.MinValue ? long.MinValue : min, max is int.MaxValue ? long.MaxValue : max), about);
        return (int?)Long(key, min, max, required);
    }

    public double? Double(string key, double min = double.NegativeInfinity, double max = double.PositiveInfinity, bool required = false, string? about = null)
    {
        if (Doc.Options is not null) Doc.Describe(Child(key), "number", RangeText(min, max), about);
        var s = String(key, required);
        if (s is null) return null;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
        {
            Doc.Error(Raw(key)!, Child(key), $"expected a number, found '{s}'");
            return null;
        }
        return InRange(key, v, min, max) ? v : null;
    }

    private bool InRange<T>(string key, T v, T min, T max) where T : IComparable<T>
    {
        if (v.CompareTo(min) >= 0 && v.CompareTo(max) <= 0) return true;
        var range = (min, max) switch
        {
            _ when IsUnbounded(max) => $"≥ {Fmt(min)}",
            _ when IsUnbounded(min) => $"≤ {Fmt(max)}",
            _ => $"between {Fmt(min)} and {Fmt(max)}",
        };
        Doc.Error(Raw(key)!, Child(key), $"must be {range}, got {Fmt(v)}");
        return false;
    }

    private static string? RangeText<T>(T min, T max) => (IsUnbounded(min), IsUnbounded(max)) switch
    {
        (true, true) => null,
        (false, true) => $"≥ {Fmt(min)}",
        (true, false) => $"≤ {Fmt(max)}",
        _ => $"{Fmt(min)} … {Fmt(max)}",
    };

    private static bool IsUnbounded<T>(T v) => v switch
    {
        long l => l is long.MinValue or long.MaxValue,
        double d => double.IsInfinity(d),
        _ => false,
    };

    private static string Fmt<T>(T v) => string.Format(CultureInfo.InvariantCulture, "{0}", v);

    /// <summary>Reads a value that must be one of <paramref name="allowed"/>; returns its index.</summary>
    public int? Choice(string key, IReadOnlyList<string> allowed, bool required = false, string? about = null)
    {
        if (Doc.Options is not null) Doc.Describe(Child(key), "one of", string.Join(", ", allowed), about);
        var s = String(key, required);
        if (s is null) return null;
        for (var i = 0; i < allowed.Count; i++)
            if (string.Equals(allowed[i], s, StringComparison.Ordinal)) return i;
        Doc.Error(Raw(key)!, Child(key), $"'{s}' is not one of: {string.Join(", ", allowed)}");
        return null;
    }

    public MapReader? Map(string key, bool required = false, string? about = null)
    {
        if (Doc.Options is not null) Doc.Describe(Child(key), "mapping", null, about);
        var node = Raw(key);
        if (node is null) { if (required) Missing(key); return null; }
        return Of(Doc, node, Child(key));
    }

    /// <summary>The items of a sequence with their paths (key[0], key[1], …).</summary>
    public IEnumerable<(YamlNode Node, string Path)> Sequence(string key, bool required = false)
    {
        var node = Raw(key);
        if (node is null) { if (required) Missing(key); yield break; }
        if (node is not YamlSequenceNode seq)
        {
            Doc.Error(node, Child(key), $"expected a list, found {Describe(node)}");
            yield break;
        }
        for (var i = 0; i < seq.Children.Count; i++) yield return (seq.Children[i], $"{Child(key)}[{i}]");
    }

    /// <summary>The items of a list of mappings; items that are not mappings are reported and skipped.</summary>
    public IEnumerable<MapReader> Maps(string key, string? about = null)
    {
        if (Doc.Options is not null) Doc.Describe(Child(key), "list of mappings", null, about);
        foreach (var (node, path) in Sequence(key))
            if (Of(Doc, node, path) is { } m) yield return m;
    }

    /// <summary>A list of finite numbers of at least <paramref name="min"/>.</summary>
    public ImmutableArray<double> Numbers(string key, double min = double.NegativeInfinity)
    {
        var list = ImmutableArray.CreateBuilder<double>();
        foreach (var (n, p) in Sequence(key))
        {
            if (n is YamlScalarNode { Value: { } v } &&
                double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.IsFinite(x) && x >= min)
                list.Add(x);
            else Doc.Error(n, p, double.IsInfinity(min) ? $"expected a number, found {Describe(n)}" : $"expected a number ≥ {Fmt(min)}, found {Describe(n)}");
        }
        return list.ToImmutable();
    }

    /// <summary>A list of plain strings.</summary>
    public List<string> Strings(string key, string? about = null)
    {
        if (Doc.Options is not null) Doc.Describe(Child(key), "list of strings", null, about);
        var list = new List<string>();
        foreach (var (n, p) in Sequence(key))
        {
            if (n is YamlScalarNode { Value: { } v }) list.Add(v);
            else Doc.Error(n, p, $"expected a string, found {Describe(n)}");
        }
        return list;
    }

    /// <summary>A mapping of plain strings to plain strings (labels, mounts).</summary>
    public SortedDictionary<string, string> StringMap(string key, string? about = null)
    {
        if (Doc.Options is not null) Doc.Describe(Child(key), "string → string", null, about);
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var m = Map(key);
        if (m is null) return result;
        foreach (var k in m.Keys.ToList())
            if (m.String(k) is { } v) result[k] = v;
        return result;
    }

    /// <summary>Reports every key nobody asked for; call when a mapping is fully read.</summary>
    public void RejectUnknown()
    {
        var known = _used.OrderBy(k => k, StringComparer.Ordinal).ToList();
        foreach (var (name, (key, _)) in _entries)
            if (!_used.Contains(name))
                Doc.Error(key, Child(name), $"unknown key (expected one of: {string.Join(", ", known)})");
    }

    public void Error(string key, string message) =>
        Doc.Error(_entries.TryGetValue(key, out var e) ? e.Value : _node, Child(key), message);

    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: null or "" or "~" or "null" };

    public static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode s => $"'{s.Value}'",
        _ => node.NodeType.ToString(),
    };
}
