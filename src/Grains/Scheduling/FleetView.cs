using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Planning;
using Orleans.Runtime;

namespace KvmCluster.Grains.Scheduling;

/// <summary>
/// The scheduler's picture of the fleet, built from what hosts push: the latest report per host, which hosts' silos
/// are alive, guests launched since their host last reported, and what the power controller says of hosts that do not
/// report. Live hosts and their guests go into a snapshot, and so do hosts the power controller says are off or in
/// standby (without guests): a policy may power them on, and they are never placement targets until they are on.
/// A host whose silo is gone and whose power state is unknown stays out: its guests cannot be moved.
/// </summary>
public sealed class FleetView(IClusterMembershipService membership, TimeSpan? staleAfter = null)
{
    private readonly TimeSpan _staleAfter = staleAfter ?? TimeSpan.FromMinutes(1);
    // When each host's last report arrived, in real time: a host whose reports stop is not reachable, whatever the
    // membership table says (its silo may be alive and its host grain stuck, or the reports lost).
    private readonly Dictionary<string, DateTime> _heard = new(StringComparer.Ordinal);
    private DateTime _freshnessChecked;
    private readonly SortedDictionary<string, HostReport> _reports = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _receivedAt = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Guest> _launched = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SiloAddress> _silos = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PowerState> _powerStatus = new(StringComparer.Ordinal);
    private MembershipVersion _seen = MembershipVersion.MinValue;
    private HashSet<string> _reachable = new(StringComparer.Ordinal);
    // How many reports name each guest (normally one; briefly two while reports cross a migration).
    private readonly Dictionary<string, int> _reported = new(StringComparer.Ordinal);

    /// <summary>Changes whenever the set of hosts, their facts or their guests change (not for usage samples).</summary>
    public long Version { get; private set; }

    /// <summary>Counts every report, usage-only ones included.</summary>
    public long Reported { get; private set; }

    public IEnumerable<HostReport> Reports => _reports.Values;

    /// <param name="receivedAt">When the scheduler got it (its own clock: hosts' clocks may differ).</param>
    public bool Report(HostReport report, DateTimeOffset receivedAt)
    {
        Reported++;
        var changed = !_reports.TryGetValue(report.Host.Name, out var old)
            || old.Host != report.Host || old.DriverProblem != report.DriverProblem || old.Silo != report.Silo
            || !old.Guests.Select(g => (g.Name, g.Paused)).SequenceEqual(report.Guests.Select(g => (g.Name, g.Paused)));
        if (old is not null) Count(old, -1);
        Count(report, +1);
        _reports[report.Host.Name] = report;
        _receivedAt[report.Host.Name] = receivedAt;
        _heard[report.Host.Name] = DateTime.UtcNow;
        _silos[report.Host.Name] = SiloAddress.FromParsableString(report.Silo);
        foreach (var g in report.Guests) _launched.Remove(g.Name);
        if (changed) { Version++; _seen = MembershipVersion.MinValue; }
        return changed;
    }

    /// <summary>What the power controller says of a host (after a power action, and on a timer for hosts that do not report).</summary>
    public void PowerStatus(string host, PowerState? power)
    {
        var before = _powerStatus.GetValueOrDefault(host, PowerState.On);
        if (power is { } p) _powerStatus[host] = p; else _powerStatus.Remove(host);
        if (before != _powerStatus.GetValueOrDefault(host, PowerState.On)) Version++;
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

    /// <summary>Hosts whose silo is gone (their power state is worth asking the power controller).</summary>
    public IEnumerable<string> Unreachable()
    {
        Refresh();
        return _reports.Keys.Where(h => !_reachable.Contains(h));
    }

    /// <summary>Every power controller status known (persisted with the scheduler's state).</summary>
    public IReadOnlyDictionary<string, PowerState> PowerStatuses => _powerStatus;

    /// <summary>The power state the scheduler believes: the host's own report while it reports, else the power controller's.</summary>
    public PowerState? PowerOf(string host)
    {
        Refresh();
        if (_reachable.Contains(host) && _reports.TryGetValue(host, out var r)) return r.Host.Power;
        return _powerStatus.TryGetValue(host, out var p) && p != PowerState.On ? p : null;
    }

    public FleetSnapshot Snapshot(double sampleSeconds)
    {
        Refresh();
        var hosts = new List<Host>();
        var guests = new List<Guest>();
        foreach (var r in _reports.Values)
        {
            if (!_reachable.Contains(r.Host.Name))
            {
                // Known to be off: in the fleet so a policy can power it on; nothing runs there.
                if (_powerStatus.TryGetValue(r.Host.Name, out var p) && p != PowerState.On) hosts.Add(r.Host with { Power = p });
                continue;
            }
            // A host whose driver cannot run guests is in the fleet but takes nothing (like maintenance).
            hosts.Add(r.DriverProblem is null ? r.Host : r.Host with { Maintenance = true });
            guests.AddRange(r.Guests.Select(g => g with { Host = r.Host.Name }));
        }
        var known = new HashSet<string>(guests.Select(g => g.Name), StringComparer.Ordinal);
        guests.AddRange(_launched.Values.Where(g => g.Host is { } h && _reachable.Contains(h) && known.Add(g.Name)).OrderBy(g => g.Name, StringComparer.Ordinal));
        return new FleetSnapshot(hosts, guests) { SampleIntervalSeconds = sampleSeconds };
    }

    /// <summary>The host as the plan executor sees it, or null when it neither reports nor is known to be off.</summary>
    public HostSighting? Sighting(string host)
    {
        Refresh();
        if (!_reports.TryGetValue(host, out var r)) return null;
        if (_reachable.Contains(host))
            return new HostSighting(r.Host.Power, _receivedAt.GetValueOrDefault(host), [.. GuestsOn(r).Select(g => g.Name)]);
        return _powerStatus.TryGetValue(host, out var p) && p != PowerState.On ? new HostSighting(p, null, []) : null;
    }

    /// <summary>When the scheduler last heard from the host (real time), or null if never since it started.</summary>
    public DateTime? HeardAt(string host) => _heard.TryGetValue(host, out var t) ? t : null;

    /// <summary>
    /// Re-reads liveness when the membership table changed, and at most once a second for hosts whose reports stopped.
    /// A host is reachable when its silo is active and it reported within the stale time (hosts restored from the
    /// roster at start-up count as heard then).
    /// </summary>
    private void Refresh()
    {
        var snapshot = membership.CurrentSnapshot;
        var now = DateTime.UtcNow;
        if (snapshot.Version == _seen && now - _freshnessChecked < TimeSpan.FromSeconds(1)) return;
        _seen = snapshot.Version;
        _freshnessChecked = now;
        var reachable = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (host, silo) in _silos)
            if (snapshot.GetSiloStatus(silo) == SiloStatus.Active && now - _heard.GetValueOrDefault(host, now) <= _staleAfter) reachable.Add(host);
        if (!reachable.SetEquals(_reachable)) Version++;
        _reachable = reachable;
    }

    /// <summary>The guests on a host: its last report plus those launched there since.</summary>
    public IEnumerable<Guest> GuestsOn(HostReport report) =>
        report.Guests.Concat(_launched.Values.Where(g => g.Host == report.Host.Name)).DistinctBy(g => g.Name);

    /// <summary>Whether any host (live or not) runs or is starting a guest of this name.</summary>
    public bool HasGuest(string name) => _launched.ContainsKey(name) || _reported.ContainsKey(name);
}
