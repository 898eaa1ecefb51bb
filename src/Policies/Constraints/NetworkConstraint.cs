using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Constraints;

/// <summary>
/// Every network a guest's NICs are on must be on the host: a guest moved to a host without the same bridge loses its
/// network (the KVM handbook's warning about migration between hosts with different bridges).
/// </summary>
public sealed class NetworkConstraint : IStaticConstraint
{
    public static readonly NetworkConstraint Instance = new();
    public string Id => "network";

    public string? Check(in StaticInput x)
    {
        var wanted = x.Guest.Networks.Select(n => n.Network).Concat(x.Guest.Devices.Select(d => d.Network).OfType<string>()).ToList();
        if (wanted.Count == 0) return null;
        var have = x.Host.Networks.IsDefault ? [] : x.Host.Networks;
        var missing = wanted.Distinct(StringComparer.Ordinal).Where(n => !have.Contains(n)).Order(StringComparer.Ordinal).ToList();
        return missing.Count == 0 ? null
            : $"{StaticInput.HostToken} has no network {string.Join(", ", missing.Select(m => $"'{m}'"))} (the guest's NICs would lose their network)";
    }
}
