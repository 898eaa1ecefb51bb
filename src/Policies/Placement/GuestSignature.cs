using System.Text;
using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Placement;

/// <summary>
/// The guest attributes static constraints read, as one string: CPU mode, model and flags, 64-bit, NX,
/// hugepage size, passthrough ids, SR-IOV network, disks and hard host-label rules.
/// </summary>
internal static class GuestSignature
{
    public static string Of(Guest g)
    {
        var sb = new StringBuilder(96);
        sb.Append(g.Cpu.ToString()).Append('|').Append(g.Is64Bit ? '6' : '3').Append(g.RequiresNx ? 'N' : '-')
          .Append('|').Append(g.HugepageSizeKiB);
        if (g.HasPassthrough) sb.Append("|pci:").AppendJoin(',', g.PciDevices);
        if (g.SriovVfs > 0) sb.Append("|vf:").Append(g.SriovNetwork ?? "*");
        foreach (var n in g.Networks) sb.Append("|n:").Append(n.Network);
        foreach (var d in g.Devices) if (d.Network is not null) sb.Append("|n:").Append(d.Network);
        if (g.Machine is not null) sb.Append("|m:").Append(g.Machine);
        foreach (var d in g.Disks) sb.Append("|d:").Append((int)d.Kind).Append(d.MountPath).Append('>').Append(d.Export).Append('>').Append(d.Image);
        foreach (var r in g.Affinity)
            if (r.Hard && r.Scope == AffinityScope.Host) sb.Append("|a:").Append(r.Anti ? '!' : '=').Append(r.Selector);
        return sb.ToString();
    }
}
