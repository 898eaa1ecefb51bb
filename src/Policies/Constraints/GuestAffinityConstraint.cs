using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Constraints;

/// <summary>
/// Hard VM-to-VM rules: run together with (or apart from) guests carrying a label. Positive affinity only
/// binds once some other guest with the label exists; the first one may go anywhere.
/// </summary>
public sealed class GuestAffinityConstraint : IDynamicConstraint
{
    public static readonly GuestAffinityConstraint Instance = new();
    public string Id => "guest-affinity";

    public bool AppliesTo(GuestDemand d)
    {
        foreach (var r in d.Guest.Affinity)
            if (r.Hard && r.Scope == AffinityScope.Guest) return true;
        return false;
    }

    public bool Admits(GuestDemand d, int h, PlacementState s) => FirstBroken(d, h, s) is null;

    /// <summary>Per rule, only the few hosts running guests with the label are looked up — not every candidate.</summary>
    public int Filter(GuestDemand d, int[] hosts, int count, PlacementState s)
    {
        foreach (var r in d.Guest.Affinity)
        {
            if (!r.Hard || r.Scope != AffinityScope.Guest || count == 0) continue;
            var with = new HashSet<int>();
            foreach (var h in s.HostsWithLabel(r.Selector))
                if (Others(d, h, s, r.Selector) > 0) with.Add(h);
            if (!r.Anti && with.Count == 0) continue; // first member of the group: anywhere
            var kept = 0;
            for (var i = 0; i < count; i++)
                if (with.Contains(hosts[i]) != r.Anti) hosts[kept++] = hosts[i];
            count = kept;
        }
        return count;
    }

    public string Explain(GuestDemand d, int h, PlacementState s)
    {
        var rule = FirstBroken(d, h, s)!;
        var host = s.Hosts[h].Name;
        return rule.Anti
            ? $"guest must not share a host with guests labelled {rule.Selector}; host {host} runs {Others(d, h, s, rule.Selector)}"
            : $"guest must run with guests labelled {rule.Selector}; host {host} runs none";
    }

    private static AffinityRule? FirstBroken(GuestDemand d, int h, PlacementState s)
    {
        foreach (var r in d.Guest.Affinity)
        {
            if (!r.Hard || r.Scope != AffinityScope.Guest) continue;
            var here = Others(d, h, s, r.Selector);
            if (r.Anti && here > 0) return r;
            if (!r.Anti && here == 0 && AnyOther(d, s, r.Selector)) return r;
        }
        return null;
    }

    /// <summary>Guests with the label on host h, not counting the guest itself.</summary>
    internal static int Others(GuestDemand d, int h, PlacementState s, string selector)
    {
        var n = s.GuestsWithLabel(h, selector);
        if (h == d.CurrentHost && HasLabel(d.Guest, selector)) n--;
        return n;
    }

    private static bool AnyOther(GuestDemand d, PlacementState s, string selector)
    {
        var total = s.GuestsWithLabelAnywhere(selector);
        if (d.CurrentHost >= 0 && HasLabel(d.Guest, selector)) total--;
        return total > 0;
    }

    internal static bool HasLabel(Guest g, string selector)
    {
        var eq = selector.IndexOf('=');
        return g.Labels.TryGetValue(selector[..eq], out var v) && v == selector[(eq + 1)..];
    }
}
