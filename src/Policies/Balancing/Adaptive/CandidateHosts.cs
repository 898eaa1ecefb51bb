namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>
/// The hosts PABFD has to look at for one decision: every host unlike the others, plus the first
/// non-excluded member of each class of interchangeable (empty, idle, same type and power state) hosts —
/// PABFD takes the lowest-numbered of equals, so the rest of a class can never win. When a placement lands
/// on a class's representative it stops being interchangeable and the next member stands in.
/// On a fleet of 10,000 mostly idle hosts this turns each search from 10,000 hosts into the busy ones.
/// </summary>
internal sealed class CandidateHosts
{
    private readonly List<int> _hosts = [];
    private readonly Dictionary<int, int> _index = []; // host → its position in _hosts
    private readonly Dictionary<int, Queue<int>> _classes = [];
    private readonly Dictionary<int, int> _representativeOf = []; // host → its class, while it stands in

    public CandidateHosts(IAdaptiveFleet fleet, bool[] excluded)
    {
        for (var h = 0; h < fleet.HostCount; h++)
        {
            if (excluded[h]) continue;
            var cls = fleet.InterchangeableClass(h);
            if (cls < 0) { Add(h); continue; }
            if (!_classes.TryGetValue(cls, out var members)) _classes[cls] = members = new Queue<int>();
            members.Enqueue(h);
        }
        foreach (var (cls, members) in _classes) StandIn(cls, members);
    }

    public List<int> Hosts => _hosts;

    /// <summary>A VM was placed on <paramref name="host"/>: if it stood in for a class, the next member does.</summary>
    public void Placed(int host)
    {
        if (!_representativeOf.Remove(host, out var cls)) return;
        var members = _classes[cls];
        members.Dequeue();
        StandIn(cls, members);
    }

    /// <summary>Drops a host that can no longer win (full for everything still to place).</summary>
    public void Remove(int host)
    {
        if (!_index.Remove(host, out var i)) return;
        var last = _hosts[^1];
        _hosts[i] = last;
        _hosts.RemoveAt(_hosts.Count - 1);
        if (last != host) _index[last] = i;
        if (_representativeOf.Remove(host, out var cls))
        {
            var members = _classes[cls];
            members.Dequeue();
            StandIn(cls, members);
        }
    }

    private void Add(int h)
    {
        _index[h] = _hosts.Count;
        _hosts.Add(h);
    }

    private void StandIn(int cls, Queue<int> members)
    {
        if (!members.TryPeek(out var h)) return;
        Add(h);
        _representativeOf[h] = cls;
    }
}
