using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace KvmCluster.Policies.Documents;

/// <summary>
/// Bounds every document (policy, fleet, datacenter; YAML or JSON) must keep before it is built into nodes. YamlDotNet's
/// node model recurses per nesting level and shares an alias's node wherever it is used, so a deep or alias-multiplied
/// document would exhaust the stack or the CPU of whoever reads it ("billion laughs"). The check streams the parser's
/// events — iterative, constant stack — and stops at the first bound crossed, naming it.
/// </summary>
public static class DocumentLimits
{
    /// <summary>Characters in a document (a fleet of thousands of hosts stays well below).</summary>
    public const int MaxCharacters = 4 * 1024 * 1024;
    /// <summary>Nesting of mappings and sequences.</summary>
    public const int MaxDepth = 64;
    /// <summary>Nodes the document holds once every alias is expanded.</summary>
    public const long MaxExpandedNodes = 1_000_000;
    /// <summary>Aliases (*name) in a document.</summary>
    public const int MaxAliases = 1_000;

    /// <summary>The first bound <paramref name="text"/> crosses, with where; null when within all.</summary>
    internal static (Mark Mark, string Message)? Check(string text)
    {
        if (text.Length > MaxCharacters)
            return (Mark.Empty, $"the document has {text.Length:N0} characters; the limit is {MaxCharacters:N0}");
        var parser = new Parser(new StringReader(text));
        var frames = new Stack<Frame>();
        var anchors = new Dictionary<string, long>(StringComparer.Ordinal);
        long nodes = 0;
        var aliases = 0;
        try
        {
            while (parser.MoveNext())
            {
                var e = parser.Current!;
                if (e is not (NodeEvent or AnchorAlias or MappingEnd or SequenceEnd)) continue;
                if (e is MappingEnd or SequenceEnd)
                {
                    var done = frames.Pop();
                    if (done.Anchor is { } a) anchors[a] = nodes - done.NodesBefore + 1;
                    continue;
                }
                // A node: a mapping's key must be a plain scalar (complex keys and aliased keys are what make
                // error messages and lookups explode).
                if (frames.TryPeek(out var parent) && parent.Mapping)
                {
                    if (parent.ExpectKey && e is not Scalar) return (e.Start, "keys must be plain strings (no aliases, mappings or sequences as keys)");
                    parent.ExpectKey = !parent.ExpectKey;
                }
                if (e is AnchorAlias alias)
                {
                    if (++aliases > MaxAliases) return (e.Start, $"the document uses more than {MaxAliases:N0} aliases");
                    nodes += anchors.GetValueOrDefault(alias.Value.Value, 1);
                }
                else
                {
                    nodes++;
                    var anchor = e is NodeEvent { Anchor.IsEmpty: false } n ? n.Anchor.Value : null;
                    if (e is MappingStart or SequenceStart)
                    {
                        if (frames.Count >= MaxDepth) return (e.Start, $"the document nests deeper than {MaxDepth} levels");
                        frames.Push(new Frame(e is MappingStart, anchor, nodes - 1));
                    }
                    else if (anchor is not null) anchors[anchor] = 1;
                }
                if (nodes > MaxExpandedNodes) return (e.Start, $"the document expands to more than {MaxExpandedNodes:N0} nodes once its aliases are resolved");
            }
        }
        catch (YamlException)
        {
            return null; // a syntax error: the loader reports it with its position
        }
        return null;
    }

    private sealed class Frame(bool mapping, string? anchor, long nodesBefore)
    {
        public bool Mapping { get; } = mapping;
        public string? Anchor { get; } = anchor;
        public long NodesBefore { get; } = nodesBefore;
        public bool ExpectKey { get; set; } = mapping;
    }
}
