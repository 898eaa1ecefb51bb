using KvmCluster.Grains.Access;
using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Guests;
using KvmCluster.Grains.Migrations;
using KvmCluster.Grains.PolicyStore;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Planning;
using Microsoft.Extensions.Logging;

namespace KvmCluster.Grains.Scheduling;

/// <summary>
/// `kvmcluster state export|import`: the fleet's state as one document. Both run in one turn of this grain, so no
/// placement, plan or operator migration starts meanwhile. Storage stays Orleans' own (Redis or memory); this is the
/// way an operator reads, backs up or moves it.
/// </summary>
public sealed partial class SchedulerGrain
{
    private static readonly TimeSpan SettingsTimeout = TimeSpan.FromSeconds(10);

    public async Task<FleetStateDocument> ExportState()
    {
        var notes = new List<string>();
        var (versions, active) = await GrainFactory.GetGrain<IPolicyGrain>(Cluster.Key).Export();
        var tokens = await GrainFactory.GetGrain<IAccessGrain>(Cluster.Key).Export();
        var events = await GrainFactory.GetGrain<IEventLogGrain>(Cluster.Key).Query(null, null, 0);

        var guests = new List<GuestRecord>();
        foreach (var name in (await GuestDirectory.All(GrainFactory)).Keys.Order(StringComparer.Ordinal))
            if (await GrainFactory.GetGrain<IGuestGrain>(name).Export() is { } record) guests.Add(record);

        var hosts = new List<HostSettings>();
        foreach (var r in _fleet.Reports.OrderBy(r => r.Host.Name, StringComparer.Ordinal))
        {
            if (!_fleet.IsReachable(r.Host.Name)) { notes.Add($"host {r.Host.Name} is not reachable: its settings are not in this export"); continue; }
            try { hosts.Add(await HostGrain(r.Host.Name).Settings().WaitAsync(SettingsTimeout)); }
            catch (Exception e) { notes.Add($"host {r.Host.Name} did not answer: its settings are not in this export ({e.GetBaseException().Message})"); }
        }

        var migrations = new List<MigrationView>();
        foreach (var id in await MigrationIndex.All(GrainFactory))
            if (await GrainFactory.GetGrain<IMigrationGrain>(id).Get() is { } m) migrations.Add(m);

        return new FleetStateDocument(FleetStateDocument.CurrentFormat, clock.Now, versions, active, guests,
            [.. _plans.All.Select(WithProgress)], hosts, tokens, events, migrations, notes);
    }

    public async Task<StateImported> ImportState(FleetStateDocument document)
    {
        // Everything is checked before anything is written: a refused document changes nothing.
        foreach (var (field, message) in Problems(document)) throw ClusterException.Invalid(message, field);
        if (_plans.Busy is { } busy)
            throw ClusterException.Conflict($"plan {busy.Id} is {busy.State}: cancel it or let it finish, then import");
        if (_migrations.Count > 0) throw ClusterException.Conflict($"{_migrations.Count} migrations are under way: import when they have finished");
        if (document.Plans.FirstOrDefault(p => _plans.Contains(p.Id)) is { } clash)
            throw ClusterException.Conflict($"plan {clash.Id} exists in this cluster: import into a cluster that has not run it");

        var tokens = await GrainFactory.GetGrain<IAccessGrain>(Cluster.Key).Import(document.Tokens);
        var policies = await GrainFactory.GetGrain<IPolicyGrain>(Cluster.Key).Import(document.Policies, document.ActivePolicy);
        _policyStale = true;

        foreach (var g in document.Guests) await GrainFactory.GetGrain<IGuestGrain>(g.Spec.Name).Restore(g);

        _plans.Import(document.Plans);
        await Save();

        var notes = new List<string>();
        var hosts = 0;
        foreach (var h in document.Hosts)
        {
            if (!h.Maintenance && h.Labels.Count == 0 && h.RemovedLabels.Count == 0) continue;
            if (!_fleet.IsReachable(h.Name)) { notes.Add($"host {h.Name} is not reachable: set its maintenance and labels when it is back"); continue; }
            try
            {
                if (h.Maintenance) await HostGrain(h.Name).SetMaintenance(true).WaitAsync(SettingsTimeout);
                if (h.Labels.Count + h.RemovedLabels.Count > 0)
                {
                    var report = await HostGrain(h.Name).SetLabels(new LabelChange(h.Labels, h.RemovedLabels)).WaitAsync(SettingsTimeout);
                    if (_fleet.Report(report, clock.Now)) RosterChanged();
                }
                hosts++;
            }
            catch (Exception e) { notes.Add($"host {h.Name}: settings not restored ({e.GetBaseException().Message})"); }
        }

        var events = await GrainFactory.GetGrain<IEventLogGrain>(Cluster.Key).Import(document.Events);
        if (document.Migrations.Count > 0)
            notes.Add($"{document.Migrations.Count} migration records are not imported (their events are)");
        var imported = new StateImported(policies, document.Guests.Count, document.Plans.Count, hosts, tokens, events, notes);
        log.LogInformation("state imported from the export of {ExportedAt:u}: {Imported}", document.ExportedAt, imported);
        await Record("state-imported", Cluster.Key,
            $"state imported from the export of {document.ExportedAt:u}: {policies} policy versions, {imported.Guests} guests, {imported.Plans} plans, {tokens} tokens, {events} events",
            notes);
        return imported;
    }

    /// <summary>What is wrong with a document, by its JSON field names.</summary>
    private static IEnumerable<(string Field, string Message)> Problems(FleetStateDocument d)
    {
        if (d.Format != FleetStateDocument.CurrentFormat)
        {
            yield return ("format", $"'{d.Format}' is not a format this cluster reads (it reads {FleetStateDocument.CurrentFormat})");
            yield break;
        }
        // JSON reads null list elements as null whatever the annotations say: refuse them before looking inside.
        foreach (var (field, list) in new (string, System.Collections.IList)[]
            { ("policies", (System.Collections.IList)d.Policies), ("guests", (System.Collections.IList)d.Guests), ("plans", (System.Collections.IList)d.Plans),
              ("hosts", (System.Collections.IList)d.Hosts), ("tokens", (System.Collections.IList)d.Tokens), ("events", (System.Collections.IList)d.Events) })
            for (var i = 0; i < list.Count; i++)
                if (list[i] is null) { yield return ($"{field}[{i}]", "null is not a record"); yield break; }
        foreach (var p in PolicyGrain.Problems(d.Policies, d.ActivePolicy)) yield return p;
        foreach (var p in AccessGrain.Problems(d.Tokens)) yield return p;

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < d.Guests.Count; i++)
        {
            var g = d.Guests[i];
            var field = $"guests[{i}]";
            if (g.Spec is null) { yield return ($"{field}.spec", "missing"); continue; }
            foreach (var (f, m) in g.Spec.Problems()) yield return ($"{field}.spec.{f}", m);
            if (!names.Add(g.Spec.Name)) yield return ($"{field}.spec.name", $"guest {g.Spec.Name} is given twice");
            if (g.Host is { } h && GuestName.Problem(h) is { } hp) yield return ($"{field}.host", hp);
            if (!Enum.IsDefined(g.Status)) yield return ($"{field}.status", $"unknown status {(int)g.Status}");
            if (g.History is null) yield return ($"{field}.history", "missing");
        }

        var plans = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < d.Plans.Count; i++)
        {
            var p = d.Plans[i];
            if (GuestName.Problem(p.Id) is { } ip) yield return ($"plans[{i}].id", ip);
            else if (!plans.Add(p.Id)) yield return ($"plans[{i}].id", $"plan {p.Id} is given twice");
            if (!Enum.TryParse<PlanState>(p.State, ignoreCase: true, out _) || int.TryParse(p.State, out _))
                yield return ($"plans[{i}].state", $"'{p.State}' is not a plan state");
        }

        var hosts = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < d.Hosts.Count; i++)
        {
            var h = d.Hosts[i];
            if (GuestName.Problem(h.Name) is { } np) { yield return ($"hosts[{i}].name", np); continue; }
            if (!hosts.Add(h.Name)) yield return ($"hosts[{i}].name", $"host {h.Name} is given twice");
            if (h.Labels.Count + h.RemovedLabels.Count > 0)
                foreach (var (f, m) in new LabelChange(h.Labels, h.RemovedLabels).Problems())
                    yield return ($"hosts[{i}].{(f == "set" ? "labels" : "removedLabels")}", m);
        }

        if (d.Events.Count > Events.EventLogGrain.Capacity)
            yield return ("events", $"at most {Events.EventLogGrain.Capacity} events (the event log's cap)");
    }
}
