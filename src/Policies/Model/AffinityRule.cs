using System.ComponentModel;
namespace KvmCluster.Policies.Model;

public enum AffinityScope
{
    /// <summary>Rule about hosts carrying a label (VM-to-host rule).</summary>
    Host,
    /// <summary>Rule about other guests carrying a label (VM-to-VM rule).</summary>
    Guest,
}

/// <summary>
/// "Run on / not on hosts labelled key=value" or "run with / apart from guests labelled key=value".
/// Hard rules are filters; soft rules only weigh (oVirt's enforcing vs. non-enforcing groups).
/// </summary>
public sealed record AffinityRule(
    [property: Description("host (hosts carrying the label) or guest (other guests carrying it).")] AffinityScope Scope,
    [property: Description("The label's key.")] string Key,
    [property: Description("The label's value.")] string Value,
    [property: Description("true: not on such hosts, or apart from such guests.")] bool Anti,
    [property: Description("true: a filter (never broken); false: a preference.")] bool Hard,
    [property: Description("How much a soft rule weighs.")] double Weight = 1)
{
    public string Selector => $"{Key}={Value}";

    public override string ToString() =>
        $"{(Hard ? "hard" : "soft")} {(Anti ? "anti-affinity" : "affinity")} to {(Scope == AffinityScope.Host ? "hosts" : "guests")} {Selector}";
}
