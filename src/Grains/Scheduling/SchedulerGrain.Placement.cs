using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Ports;
using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Documents;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Planning;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Serialization.Invocation;
using PolicyModel = KvmCluster.Policies.Rules;

namespace KvmCluster.Grains.Scheduling;

/// <summary>Placing new guests: the active policy chooses, the host launches, the guest record follows.</summary>
public sealed partial class SchedulerGrain
{
    public async Task<PlacementView> Place(Guest guest)
    {
        foreach (var (field, message) in guest.Problems()) throw ClusterException.Invalid(message, field);
        // Checked and claimed before the first await: two interleaved placements of one name must not both pass.
        if (_fleet.HasGuest(guest.Name) || !_naming.Add(guest.Name))
            throw ClusterException.Conflict($"guest '{guest.Name}' already exists");
        _engines.PlacementStarted();
        try { return await PlaceOne(CpuBaselines.Apply(guest, _baselineStale ? await CpuBaseline() : _baseline), null); }
        finally { _engines.PlacementEnded(); _naming.Remove(guest.Name); }
    }

    /// <param name="pin">The host an operator chose (or where the guest's local disks are): it must pass every constraint.</param>
    private async Task<PlacementView> PlaceOne(Guest guest, string? pin)
    {
        // While other placements are in flight their reservations live in the current engine: keep it.
        var engine = _engines.Shared ?? await Engine();
        var now = clock.Now;
        var (result, reservation) = pin is null
            ? engine.PlaceAndReserve(guest with { Host = null }, now, options.Value.ReservationTtl, PlaceOptions.Fast)
            : ReserveOn(engine, guest with { Host = null }, pin, now);
        if (reservation is null)
        {
            var explained = engine.Place(guest with { Host = null }, PlaceOptions.Explained);
            var reasons = explained.Rejected.Take(10).Select(r => r.ToString()).ToList();
            Telemetry.KvmMeters.PlacementsRefused.Add(1);
            throw new ClusterException(ProblemKind.Conflict, $"no host can run guest '{guest.Name}'" + (reasons.Count > 0 ? ": " + string.Join("; ", reasons) : ""));
        }
        var placed = guest with { Host = reservation.Host };
        try
        {
            // The spec as it runs there (its machine type pinned at the first launch) is what the record keeps.
            placed = (await HostGrain(reservation.Host).Launch(placed)) with { Host = reservation.Host, Usage = UsageHistory.Empty };
        }
        catch (Exception e)
        {
            engine.Release(reservation.Id);
            throw e as ClusterException ?? ClusterException.Unavailable($"host '{reservation.Host}' could not launch '{guest.Name}': {e.GetBaseException().Message}");
        }
        engine.Commit(reservation.Id);
        Telemetry.KvmMeters.Placements.Add(1);
        _fleet.Launched(placed);
        _engines.Placed(_fleet); // the engine already holds this guest: no rebuild for it
        var why = new List<string> { pin is null ? $"best of {result.Feasible} feasible hosts with policy {_policy.Policy.Name} (score {result.Score:0.###})" : $"on {pin}, as asked; it passes every constraint" };
        // Acknowledged only once its record and its event are stored: what a 201 said is never forgotten. Concurrent
        // placements share the writes (the guest directory and the event log group them).
        try
        {
            await GrainFactory.GetGrain<IGuestGrain>(guest.Name).Placed(placed);
            await Record("guest-placed", guest.Name, $"guest {guest.Name} placed on {reservation.Host}", why);
        }
        catch (Exception e)
        {
            // Not recorded: nothing is acknowledged, and nothing is left running that no record knows.
            log.LogWarning("guest {Guest} placed on {Host} but not recorded, so stopped again: {Error}", guest.Name, reservation.Host, e.GetBaseException().Message);
            try { await HostGrain(reservation.Host).Stop(guest.Name); }
            catch (Exception stop) { log.LogWarning("guest {Guest} not stopped: {Error} (reconciliation adopts or stops it)", guest.Name, stop.GetBaseException().Message); }
            _fleet.LaunchFailed(guest.Name);
            _engines.Invalidate();
            throw ClusterException.Unavailable($"guest '{guest.Name}' could not be recorded ({e.GetBaseException().Message}); it was not started");
        }
        return new PlacementView(guest.Name, reservation.Host, result.Score, why);
    }

    private (PlacementResult, Reservation?) ReserveOn(PlacementEngine engine, Guest guest, string host, DateTimeOffset now)
    {
        if (!engine.State.TryGetHostIndex(host, out _)) throw ClusterException.NotFound($"no reachable host named '{host}'");
        var rejections = engine.Evaluate(guest, host);
        if (rejections.Count > 0)
        {
            Telemetry.KvmMeters.PlacementsRefused.Add(1);
            throw ClusterException.Conflict($"host '{host}' cannot run '{guest.Name}': {string.Join("; ", rejections)}");
        }
        return (new PlacementResult { Guest = guest.Name, Host = host, Feasible = 1 }, engine.Reserve(guest, host, now, options.Value.ReservationTtl));
    }

    /// <summary>Grain references are cached: resolving one costs a reflection lookup in this Orleans version.</summary>
    private IHostGrain HostGrain(string host)
    {
        if (!_hostGrains.TryGetValue(host, out var grain)) _hostGrains[host] = grain = GrainFactory.GetGrain<IHostGrain>(host);
        return grain;
    }

}
