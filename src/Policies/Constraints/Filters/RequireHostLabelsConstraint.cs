using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Constraints.Filters;

/// <summary>Policy filter: only hosts carrying every listed label.</summary>
public sealed class RequireHostLabelsConstraint(RequireHostLabelsFilter filter) : IStaticConstraint
{
    public string Id => filter.Id;

    public string? Check(in StaticInput x)
    {
        var labels = x.Host.Labels;
        var missing = filter.Labels.Where(kv => !(labels.TryGetValue(kv.Key, out var v) && v == kv.Value)).Select(kv => $"{kv.Key}={kv.Value}").ToList();
        return missing.Count == 0 ? null : $"policy requires label(s) {string.Join(", ", missing)}, which {StaticInput.HostToken} lacks";
    }
}
