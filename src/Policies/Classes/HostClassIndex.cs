using System.Text;
using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Classes;

/// <summary>Hosts whose static attributes are identical; a static constraint answers the same for all of them.</summary>
public sealed class HostClass(int id, string key, Host representative, int[] members)
{
    public int Id { get; } = id;
    /// <summary>The static attributes, spelled out; equal keys mean interchangeable hosts.</summary>
    public string Key { get; } = key;
    public Host Representative { get; } = representative;
    /// <summary>Host indexes (into PlacementState.Hosts), ascending.</summary>
    public int[] Members { get; } = members;
}

/// <summary>
/// Groups hosts into classes of identical static attributes — CPU vendor, model, flags, usable QEMU models,
/// nested virtualisation, hugepage pool sizes, storage mounts and images, passthrough device ids, SR-IOV
/// networks and labels — so feasibility is computed once per class (Nomad's computed node class).
/// A 10,000-host fleet usually has tens of classes.
/// </summary>
public sealed class HostClassIndex
{
    public IReadOnlyList<HostClass> All { get; }
    private readonly int[] _classOf;

    public HostClassIndex(IReadOnlyList<Host> hosts)
    {
        _classOf = new int[hosts.Count];
        var byKey = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var order = new List<string>();
        for (var i = 0; i < hosts.Count; i++)
        {
            var key = KeyOf(hosts[i]);
            if (!byKey.TryGetValue(key, out var members))
            {
                byKey[key] = members = [];
                order.Add(key);
            }
            members.Add(i);
        }
        var classes = new List<HostClass>(order.Count);
        foreach (var key in order)
        {
            var members = byKey[key].ToArray();
            var c = new HostClass(classes.Count, key, hosts[members[0]], members);
            foreach (var m in members) _classOf[m] = c.Id;
            classes.Add(c);
        }
        All = classes;
    }

    public int ClassOf(int host) => _classOf[host];

    public static string KeyOf(Host h)
    {
        var sb = new StringBuilder(256);
        var c = h.Cpu;
        sb.Append(c.Vendor).Append('|').Append(c.ModelName).Append('|').AppendJoin(',', c.Flags)
          .Append('|').AppendJoin(',', c.QemuModels).Append('|').Append(c.NestedEnabled ? 'N' : '-')
          .Append('|').AppendJoin(',', h.Hugepages.Select(p => p.PageSizeKiB).Order())
          .Append('|').AppendJoin(',', h.Storage.Mounts.Select(kv => kv.Key + "=" + kv.Value))
          .Append('|').AppendJoin(',', h.Storage.BackingImages)
          .Append('|').AppendJoin(',', h.PciDevices.Select(d => d.VendorDevice).Distinct().Order(StringComparer.Ordinal))
          .Append('|').AppendJoin(',', h.Sriov.Select(f => f.Network).Distinct().Order(StringComparer.Ordinal))
          .Append('|').AppendJoin(',', h.Networks)
          .Append('|').Append(h.Qemu?.Version).Append(':').AppendJoin(',', h.Qemu?.MachineTypes ?? [])
          .Append('|').AppendJoin(',', h.Labels.Select(kv => kv.Key + "=" + kv.Value));
        return sb.ToString();
    }
}
