using System.Collections.Immutable;

namespace KvmCluster.Policies.Model;

/// <summary>
/// The fleet at one instant: every host and every guest (placed or not). Immutable, so the live cluster
/// and the simulator can hand the same snapshot to the core and get the same answer.
/// </summary>
public sealed record FleetSnapshot
{
    public ImmutableArray<Host> Hosts { get; init; } = [];
    public ImmutableArray<Guest> Guests { get; init; } = [];
    /// <summary>Seconds between two usage samples in every guest's history.</summary>
    public double SampleIntervalSeconds { get; init; } = 300;

    public FleetSnapshot() { }

    public FleetSnapshot(IEnumerable<Host> hosts, IEnumerable<Guest> guests)
    {
        Hosts = [.. hosts];
        Guests = [.. guests];
    }

    public Host? FindHost(string name)
    {
        foreach (var h in Hosts) if (h.Name == name) return h;
        return null;
    }

    public Guest? FindGuest(string name)
    {
        foreach (var g in Guests) if (g.Name == name) return g;
        return null;
    }

    /// <summary>Consistency problems a snapshot must not have (duplicate names, guests on unknown hosts).</summary>
    public IEnumerable<string> Problems()
    {
        var hosts = new HashSet<string>(StringComparer.Ordinal);
        foreach (var h in Hosts)
            if (!hosts.Add(h.Name)) yield return $"host '{h.Name}' appears twice";
        var guests = new HashSet<string>(StringComparer.Ordinal);
        foreach (var g in Guests)
        {
            if (!guests.Add(g.Name)) yield return $"guest '{g.Name}' appears twice";
            if (g.Host is { } h && !hosts.Contains(h)) yield return $"guest '{g.Name}' runs on unknown host '{h}'";
        }
    }
}
