using KvmCluster.Grains.Contracts;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace KvmCluster.Grains.Scheduling;

/// <summary>
/// Keeping the records honest: what hosts report is compared with the guest records (a guest its record says runs
/// nowhere is lost; one no record knows is adopted; one running on two hosts is an alarm, and the copy its record does
/// not name is paused, never killed), and every life event — silos joining and leaving, hosts unreachable and back —
/// goes to the event log. Migration grains are asked now and then how their migrations went, in case a one-way "ended"
/// was lost with a silo.
/// </summary>
public sealed partial class SchedulerGrain
{
    private DateTime _lastReconcile;
    private HashSet<SiloAddress> _silosSeen = [];
    private HashSet<string>? _reachableSeen;

    /// <summary>Every 2 s: the roster write-behind, migrations to ask about, life events, reconciliation.</summary>
    private async Task Housekeeping()
    {
        RosterChanged();
        try
        {
            if (_migrations.Count > 0 && DateTime.UtcNow - _lastMigrationPoll >= options.Value.MigrationPoll)
            {
                _lastMigrationPoll = DateTime.UtcNow;
                await PollMigrations();
            }
            await RecordLifeEvents();
            if (DateTime.UtcNow - _lastReconcile >= options.Value.ReconcileInterval)
            {
                _lastReconcile = DateTime.UtcNow;
                await Reconcile();
            }
        }
        catch (Exception e) { log.LogWarning("housekeeping: {Error}", e.GetBaseException().Message); }
    }

    private async Task RecordLifeEvents()
    {
        var members = membership.CurrentSnapshot.Members;
        var active = members.Where(m => m.Value.Status == SiloStatus.Active).Select(m => m.Key).ToHashSet();
        foreach (var joined in active.Where(s => !_silosSeen.Contains(s)))
            if (_silosSeen.Count > 0 || _reachableSeen is not null)
                await Record("silo-joined", joined.ToParsableString(), $"silo {NameOf(joined)} joined the cluster", []);
        foreach (var left in _silosSeen.Where(s => !active.Contains(s)))
            await Record("silo-left", left.ToParsableString(), $"silo {NameOf(left)} left the cluster ({(members.TryGetValue(left, out var m) ? m.Status : SiloStatus.Dead).ToString().ToLowerInvariant()})", []);
        _silosSeen = active;

        var reachable = _fleet.Reports.Select(r => r.Host.Name).Where(_fleet.IsReachable).ToHashSet(StringComparer.Ordinal);
        if (_reachableSeen is not null)
        {
            foreach (var host in _fleet.Reports.Select(r => r.Host.Name).Where(h => _reachableSeen.Contains(h) && !reachable.Contains(h)))
            {
                var why = _fleet.HeardAt(host) is { } t ? $"last report {(DateTime.UtcNow - t).TotalSeconds:0} s ago" : "no report since the scheduler started";
                log.LogWarning("host {Host} is unreachable ({Why})", host, why);
                await Record("host-unreachable", host, $"host {host} is unreachable ({why}); its guests are left out of plans", [why]);
            }
            foreach (var host in reachable.Where(h => !_reachableSeen.Contains(h)).Order(StringComparer.Ordinal))
            {
                log.LogInformation("host {Host} is reachable again", host);
                await Record("host-back", host, $"host {host} reports again", []);
            }
        }
        _reachableSeen = reachable;
    }

    /// <summary>Whether the host's last report lists the guest and came after its record last changed.</summary>
    private bool Reported(string host, string guest, GuestEntry? entry) =>
        _fleet.Reports.FirstOrDefault(r => r.Host.Name == host) is { } report && report.Guests.Any(g => g.Name == guest)
        && (entry is null || _fleet.Sighting(host)?.ReportedAt is { } at && at > entry.UpdatedAt);

    private string NameOf(SiloAddress silo) =>
        membership.CurrentSnapshot.Members.TryGetValue(silo, out var m) && !string.IsNullOrEmpty(m.Name) ? $"{m.Name} ({silo})" : silo.ToString();

    /// <summary>Compares what each reachable host runs with the guest records, and says and does what follows.</summary>
    private async Task Reconcile()
    {
        var records = await KvmCluster.Grains.Guests.GuestDirectory.All(GrainFactory);
        var live = _fleet.Reports.Where(r => _fleet.IsReachable(r.Host.Name)).ToList();
        var where = new Dictionary<string, List<(string Host, KvmCluster.Policies.Model.Guest Spec)>>(StringComparer.Ordinal);
        foreach (var r in live)
            foreach (var g in _fleet.GuestsOn(r))
            {
                if (!where.TryGetValue(g.Name, out var hosts)) where[g.Name] = hosts = [];
                hosts.Add((r.Host.Name, g));
            }
        var now = clock.Now;
        // A copy in a migration is the migration's to decide about (a paused source left after a silo restart, say).
        var inMigration = live.SelectMany(r => r.InMigration).ToHashSet(StringComparer.Ordinal);

        foreach (var (name, entry) in records)
        {
            if (_migrations.Involves(name) || _naming.Contains(name) || inMigration.Contains(name) || entry.Status is not (GuestStatus.Running or GuestStatus.Migrating)) continue;
            var hosts = where.GetValueOrDefault(name) ?? [];
            if (hosts.Count == 0)
            {
                // Its host answers, and has reported without it for long enough after the record: nothing runs it.
                if (entry.Host is not { } h || !_fleet.IsReachable(h) || _fleet.Sighting(h)?.ReportedAt is not { } reported || reported - entry.UpdatedAt < options.Value.LostAfter) continue;
                // The directory may lag the record (its host grain may have just said lost, or a migration moved it):
                // the guest's own record decides.
                var current = await GrainFactory.GetGrain<IGuestGrain>(name).Get();
                if (current is null || current.Status is not (GuestStatus.Running or GuestStatus.Migrating) || current.Host != h) continue;
                GuestExit? exit = null;
                try { exit = await HostGrain(h).ExitOf(name); } catch (Exception) { }
                var found = $"its record says it runs on {h}, which reported at {reported:u} without it" + (exit is null ? "" : $" ({exit.Why})");
                // How its QEMU ended decides: powered off or panicked is not lost (its host's own notice may just be late).
                var status = exit?.Status ?? GuestStatus.Lost;
                if (status == GuestStatus.Lost) log.LogError("guest {Guest} lost: {Found}", name, found);
                await Record(exit?.EventKind ?? "guest-lost", name, $"guest {name} {(status == GuestStatus.Lost ? "lost" : status.ToString().ToLowerInvariant())}: {found}", [found]);
                await GrainFactory.GetGrain<IGuestGrain>(name).Locate(status == GuestStatus.Lost ? null : h, status, null);
            }
            else if (hosts.All(x => x.Host != entry.Host) && hosts.Count == 1)
            {
                var found = $"its record said {entry.Host ?? "no host"}, {hosts[0].Host} runs it";
                await Record("guest-relocated", name, $"guest {name} runs on {hosts[0].Host}: {found}", [found]);
                await GrainFactory.GetGrain<IGuestGrain>(name).Locate(hosts[0].Host, GuestStatus.Running, null);
            }
        }

        foreach (var (name, hosts) in where)
        {
            // A placement in flight has launched its guest but not yet stored its record: not a stranger.
            if (_migrations.Involves(name) || _naming.Contains(name) || inMigration.Contains(name)) continue;
            records.TryGetValue(name, out var entry);
            if (hosts.Count > 1)
            {
                // Running twice: an alarm, and every copy its record does not name is paused — never killed, it may
                // hold writes the other lacks.
                var owner = hosts.Any(x => x.Host == entry?.Host) ? entry!.Host! : hosts.Select(x => x.Host).Order(StringComparer.Ordinal).First();
                var others = hosts.Select(x => x.Host).Where(h => h != owner).Order(StringComparer.Ordinal).ToList();
                var found = $"guest {name} runs on {string.Join(" and ", hosts.Select(x => x.Host).Order(StringComparer.Ordinal))}; its record names {owner}";
                log.LogCritical("{Found}: pausing the copies on {Others}", found, string.Join(", ", others));
                await Record("guest-running-twice", name, $"{found}: the copies on {string.Join(", ", others)} are paused for an operator", [found]);
                foreach (var other in others)
                {
                    try { await HostGrain(other).Control(name, new GuestControl(GuestAction.Stop)); }
                    catch (Exception e) { log.LogError("copy of {Guest} on {Host} not paused: {Error}", name, other, e.GetBaseException().Message); }
                }
            }
            else if ((entry is null || entry.Status is GuestStatus.Lost or GuestStatus.Failed or GuestStatus.ShutOff or GuestStatus.Defined or GuestStatus.Crashed)
                && Reported(hosts[0].Host, name, entry))
            {
                // Running with no record (started by hand, or the record was lost) or against it: the host's word wins
                // — its own report, made after the record was: not a launch this scheduler remembers, nor a report
                // that crossed the guest's shutdown.
                var (host, spec) = hosts[0];
                var found = entry is null ? $"{host} runs it and no record knows it" : $"{host} runs it although its record says {entry.Status.ToString().ToLowerInvariant()}";
                await Record("guest-adopted", name, $"guest {name} recorded as running on {host}: {found}", [found]);
                await GrainFactory.GetGrain<IGuestGrain>(name).Placed(spec with { Host = host });
            }
        }
    }
}
