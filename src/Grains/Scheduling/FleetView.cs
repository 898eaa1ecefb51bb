using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Model;
using Orleans.Runtime;

namespace KvmCluster.Grains.Scheduling;

/// <summary>
/// The scheduler's picture of the fleet, built from what hosts push: the latest report per host, which hosts' silos
/// are alive, and guests launched since their host last reported. Only live hosts and their guests go into a
/// snapshot: a dead host's guests cannot be moved, so the core must not plan with them.
/// </summary>
public sealed class FleetView(IClusterMembershipService membership)
{
    private readonly SortedDictionary<string, HostReport> _reports = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Guest> _launched = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SiloAddress> _silos = new(StringComparer.Ordinal);
    private MembershipVersion _seen = MembershipVersion.MinValue;
    private HashSet<string> _reachable = new(StringComparer.Ordinal);
    // How many reports name each guest (normally one; briefly two while reports cross a migration).
    private readonly Dictionary<string, int> _reported = new(StringComparer.Ordinal);

    /// <summary>Changes whenever the set of hosts, their facts or their guests change (not for usage samples).</summary>
    public long Version { get; private set; }

    /// <summary>Counts every report, usage-only ones included.</summary>
    public long Reported { get; private set; }

    public IEnumerable<HostReport> Reports => _reports.Values;

    public bool Report(HostReport report)
    {
        Reported++;
        var changed = !_reports.TryGetValue(report.Host.Name, out var old)
            || old.Host != report.Host || old.DriverProblem != report.DriverProblem || old.Silo != report.Silo
            || !old.Guests.Select(g => g.Name).SequenceEqual(report.Guests.Select(g => g.Name));
        if (old is not null) Count(old, -1);
        Count(report, +1);
        _reports[report.Host.Name] = report;
        _silos[report.Host.Name] = SiloAddress.FromParsableString(report.Silo);
        foreach (var g in report.Guests) _launched.Remove(g.Name);
        if (changed) { Version++; _seen = MembershipVersion.MinValue; }
        return changed;
    }

    /// <summary>A completed migration moves the guest now, before either host's next report says so.</summary>
    public void Moved(string guest, string from, string to)
    {
        if (_reports.TryGetValue(from, out var source) && source.Guests.FirstOrDefault(g => g.Name == guest) is { } moved)
        {
            Replace(source, source with { Guests = [.. source.Guests.Where(g => g.Name != guest)] });
            if (_reports.TryGetValue(to, out var target) && target.Guests.All(g => g.Name != guest))
                Replace(target, target with { Guests = [.. target.Guests.Append(moved with { Host = to }).OrderBy(g => g.Name, StringComparer.Ordinal)] });
            Version++;
        }
    }

    private void Replace(HostReport old, HostReport now)
    {
        Count(old, -1);
        Count(now, +1);
        _reports[now.Host.Name] = now;
    }

    private void Count(HostReport report, int delta)
    {
        foreach (var g in report.Guests)
        {
            var n = _reported.GetValueOrDefault(g.Name) + delta;
            if (n > 0) _reported[g.Name] = n; else _reported.Remove(g.Name);
        }
    }

    public void Launched(Guest guest) { _launched[guest.Name] = guest; Version++; }
    public void LaunchFailed(string guest) { if (_launched.Remove(guest)) Version++; }

    public bool IsReachable(string host)
    {
        Refresh();
        return _reachable.Contains(host);
    }

    public FleetSnapshot Snapshot(double sampleSeconds)
    {
        Refresh();
        var hosts = new List<Host>();
        var guests = new List<Guest>();
        foreach (var r in _reports.Values)
        {
            if (!_reachable.Contains(r.Host.Name)) continue;
            // A host whose driver cannot run guests is in the fleet but takes nothing (like maintenance).
            hosts.Add(r.DriverProblem is null ? r.Host : r.Host with { Maintenance = true });
            guests.AddRange(r.Guests.Select(g => g with { Host = r.Host.Name }));
        }
        var known = new HashSet<string>(guests.Select(g => g.Name), StringComparer.Ordinal);
        guests.AddRange(_launched.Values.Where(g => g.Host is { } h && _reachable.Contains(h) && known.Add(g.Name)).OrderBy(g => g.Name, StringComparer.Ordinal));
        return new FleetSnapshot(hosts, guests) { SampleIntervalSeconds = sampleSeconds };
    }

    /// <summary>Re-reads liveness only when the membership table changed.</summary>
    private void Refresh()
    {
        var snapshot = membership.CurrentSnapshot;
        if (snapshot.Version == _seen) return;
        _seen = snapshot.Version;
        var reachable = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (host, silo) in _silos)
            if (snapshot.GetSiloStatus(silo) == SiloStatus.Active) reachable.Add(host);
        if (!reachable.SetEquals(_reachable)) Version++;
        _reachable = reachable;
    }

    /// <summary>The guests on a host: its last report plus those launched there since.</summary>
    public IEnumerable<Guest> GuestsOn(HostReport report) =>
        report.Guests.Concat(_launched.Values.Where(g => g.Host == report.Host.Name)).DistinctBy(g => g.Name);

    /// <summary>Whether any host (live or not) runs or is starting a guest of this name.</summary>
    public bool HasGuest(string name) => _launched.ContainsKey(name) || _reported.ContainsKey(name);
}
