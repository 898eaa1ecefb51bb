namespace KvmCluster.Policies.Documents;

/// <summary>One option of a document as its reader asks for it: where it is, what it takes, what it means.</summary>
/// <param name="Path">Dotted path; list items are <c>[]</c> (<c>filters[].maxGuestsPerHost</c>).</param>
/// <param name="Kind">string, boolean, integer, number, one of, mapping, list of strings, string → string.</param>
/// <param name="Range">The accepted range or choices, or null.</param>
public sealed record DocumentOption(string Path, string Kind, string? Range, string About);
