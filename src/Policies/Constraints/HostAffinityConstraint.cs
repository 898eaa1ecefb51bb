using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Constraints;

/// <summary>Hard VM-to-host rules: run only on (or never on) hosts carrying a label.</summary>
public sealed class HostAffinityConstraint : IStaticConstraint
{
    public static readonly HostAffinityConstraint Instance = new();
    public string Id => "host-affinity";

    public string? Check(in StaticInput x)
    {
        foreach (var rule in x.Guest.Affinity)
        {
            if (!rule.Hard || rule.Scope != AffinityScope.Host) continue;
            var has = x.Host.Labels.TryGetValue(rule.Key, out var v) && v == rule.Value;
            if (has == rule.Anti)
                return rule.Anti
                    ? $"guest must not run on hosts labelled {rule.Selector}, and {StaticInput.HostToken} is"
                    : $"guest must run on a host labelled {rule.Selector}, and {StaticInput.HostToken} is not";
        }
        return null;
    }
}
