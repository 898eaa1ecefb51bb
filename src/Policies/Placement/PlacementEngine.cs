using KvmCluster.Policies.Constraints;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Scoring;

namespace KvmCluster.Policies.Placement;

/// <summary>
/// Filter → score → select over a <see cref="PlacementState"/>. Static constraints are answered once per
/// (guest signature, source class, host class) and memoised, together with the resulting candidate list;
/// only per-host counters are checked per host, in tight passes over the state's arrays.
/// Ties go to the host that sorts first by name, so the same inputs always give the same answer.
/// </summary>
public sealed class PlacementEngine
{
    public PlacementState State { get; }
    /// <summary>The rules this engine applies: the state's policy, or after <see cref="Derive"/> the derived rules.</summary>
    public Rules.Policy Policy => _rules;
    private readonly Rules.Policy _rules;

    /// <summary>
    /// An engine over the same state with extra filters and other weights — e.g. "only hosts that stay under
    /// 63 % CPU, least loaded first" for a balancer's own placements. Mandatory constraints still apply.
    /// </summary>
    public PlacementEngine Derive(IEnumerable<Rules.ExtraFilter> extraFilters, Rules.ScoreWeights weights) =>
        new(State, _rules with { Filters = [.. _rules.Filters, .. extraFilters], Weights = weights });
    public ConstraintSet Constraints { get; }
    private readonly ScoreCard _score;
    private readonly Dictionary<string, int> _signatures = new(StringComparer.Ordinal);
    private readonly Dictionary<(int Sig, int Source, int Class), Rejection[]> _static = [];
    private readonly Dictionary<(int Sig, int Source), int[]> _feasible = [];
    private readonly SortedDictionary<long, Reservation> _reservations = [];
    private long _nextReservation = 1;
    // Scratch buffers for one placement: candidate host indexes and their scores.
    private readonly int[] _candidates;
    private readonly double[] _scores;

    public PlacementEngine(FleetSnapshot snapshot, Rules.Policy policy) : this(new PlacementState(snapshot, policy)) { }

    public PlacementEngine(PlacementState state) : this(state, state.Policy) { }

    private PlacementEngine(PlacementState state, Rules.Policy rules)
    {
        State = state;
        Constraints = new ConstraintSet(rules);
        _score = new ScoreCard(rules.Weights);
        _rules = rules;
        _candidates = new int[Math.Max(1, state.HostCount)];
        _scores = new double[Math.Max(1, state.HostCount)];
    }

    /// <summary>One-shot convenience: where would <paramref name="guest"/> go in this snapshot under this policy?</summary>
    public static PlacementResult Place(FleetSnapshot snapshot, Guest guest, Rules.Policy policy) =>
        new PlacementEngine(snapshot, policy).Place(guest);

    public PlacementResult Place(Guest guest, PlaceOptions? options = null) => Place(State.Demand(guest), options ?? PlaceOptions.Explained);

    public PlacementResult Place(GuestDemand d, PlaceOptions options)
    {
        var guest = d.Guest;
        var sig = Signature(guest);
        var source = d.CurrentHost >= 0 ? State.Hosts[d.CurrentHost] : null;
        var sourceClass = d.CurrentHost >= 0 ? State.Classes.ClassOf(d.CurrentHost) : -1;
        var dynamic = Constraints.Dynamic.Where(c => c.AppliesTo(d)).ToArray();
        List<HostRejection>? rejected = null;

        // Candidates: every host of every class that passes the static constraints (cached per signature),
        // minus the guest's own host, which "stays" unchecked when allowed.
        var feasibleStatic = StaticallyFeasible(guest, sig, source, sourceClass);
        var count = feasibleStatic.Length;
        Array.Copy(feasibleStatic, _candidates, count);
        var stays = d.CurrentHost >= 0 && options.AllowCurrentHost;
        if (d.CurrentHost >= 0 && Array.IndexOf(feasibleStatic, d.CurrentHost) >= 0)
            count = RemoveCandidate(count, d.CurrentHost);

        if (options.Explain)
        {
            rejected = [];
            foreach (var cls in State.Classes.All)
            {
                var reasons = StaticVerdict(guest, sig, source, sourceClass, cls.Id);
                if (reasons.Length > 0)
                    foreach (var h in cls.Members)
                        if (h != d.CurrentHost) rejected.Add(new HostRejection(State.Hosts[h].Name, Materialise(reasons, h, source)));
            }
            if (d.CurrentHost >= 0 && !stays)
                rejected.Add(new HostRejection(source!.Name, [new Rejection("migration", "the guest already runs here")]));
            count = FilterExplained(dynamic, d, count, rejected);
        }
        else count = Filter(dynamic, d, count);
        if (stays) _candidates[count++] = d.CurrentHost;

        int best = -1;
        var bestScore = double.NegativeInfinity;
        if (count > 0)
        {
            _score.TotalAll(d, _candidates, count, _scores, State);
            for (var i = 0; i < count; i++)
            {
                var score = _scores[i];
                var h = _candidates[i];
                if (score > bestScore || (score == bestScore && h < best))
                {
                    bestScore = score;
                    best = h;
                }
            }
        }

        return new PlacementResult
        {
            Guest = guest.Name,
            Host = best >= 0 ? State.Hosts[best].Name : null,
            Score = best >= 0 ? bestScore : 0,
            Breakdown = best >= 0 && options.Explain ? _score.Breakdown(d, best, State) : [],
            Feasible = count,
            Rejected = rejected is null ? [] : rejected.OrderBy(r => r.Host, StringComparer.Ordinal).ToList(),
        };
    }

    private int RemoveCandidate(int count, int host)
    {
        var kept = 0;
        for (var i = 0; i < count; i++)
            if (_candidates[i] != host) _candidates[kept++] = _candidates[i];
        return kept;
    }

    private int Filter(IDynamicConstraint[] dynamic, GuestDemand d, int count)
    {
        foreach (var c in dynamic)
        {
            if (count == 0) break;
            count = c.Filter(d, _candidates, count, State);
        }
        return count;
    }

    /// <summary>Per host, every failing constraint is recorded; the admitted ones stay in the buffer.</summary>
    private int FilterExplained(IDynamicConstraint[] dynamic, GuestDemand d, int count, List<HostRejection> rejected)
    {
        var kept = 0;
        for (var i = 0; i < count; i++)
        {
            var h = _candidates[i];
            List<Rejection>? reasons = null;
            foreach (var c in dynamic)
                if (!c.Admits(d, h, State)) (reasons ??= []).Add(new Rejection(c.Id, c.Explain(d, h, State)));
            if (reasons is null) _candidates[kept++] = h;
            else rejected.Add(new HostRejection(State.Hosts[h].Name, reasons));
        }
        return kept;
    }

    /// <summary>
    /// Whether the guest may go to (or, for a running guest, migrate to) the host now — every mandatory
    /// constraint and policy filter, without building explanations. Its own host is never admitted.
    /// </summary>
    public bool Admits(GuestDemand d, int host)
    {
        if (host == d.CurrentHost) return false;
        var source = d.CurrentHost >= 0 ? State.Hosts[d.CurrentHost] : null;
        var sourceClass = d.CurrentHost >= 0 ? State.Classes.ClassOf(d.CurrentHost) : -1;
        if (!ReferenceEquals(d.SignatureOwner, this)) { d.SignatureId = Signature(d.Guest); d.SignatureOwner = this; }
        if (StaticVerdict(d.Guest, d.SignatureId, source, sourceClass, State.Classes.ClassOf(host)).Length > 0) return false;
        foreach (var c in Constraints.Dynamic)
            if (c.AppliesTo(d) && !c.Admits(d, host, State)) return false;
        return true;
    }

    /// <summary>Every reason <paramref name="guest"/> cannot go to <paramref name="host"/> now; empty when it can.</summary>
    public IReadOnlyList<Rejection> Evaluate(Guest guest, string host)
    {
        var h = State.HostIndex(host);
        var d = State.Demand(guest);
        if (h == d.CurrentHost) return [new Rejection("migration", "the guest already runs here")];
        var source = d.CurrentHost >= 0 ? State.Hosts[d.CurrentHost] : null;
        var sourceClass = d.CurrentHost >= 0 ? State.Classes.ClassOf(d.CurrentHost) : -1;
        var reasons = new List<Rejection>(Materialise(StaticVerdict(guest, Signature(guest), source, sourceClass, State.Classes.ClassOf(h)), h, source));
        // A constraint that already said no statically (no such pool) need not add "0 free".
        foreach (var c in Constraints.Dynamic)
            if (c.AppliesTo(d) && reasons.All(r => r.ConstraintId != c.Id) && !c.Admits(d, h, State))
                reasons.Add(new Rejection(c.Id, c.Explain(d, h, State)));
        return reasons;
    }

    /// <summary>
    /// The hosts the guest could ever run on (or migrate to, if it is running): those passing every static
    /// constraint, whatever their current load or power state.
    /// </summary>
    public IReadOnlyList<string> Reach(Guest guest)
    {
        var d = State.Demand(guest);
        var source = d.CurrentHost >= 0 ? State.Hosts[d.CurrentHost] : null;
        var sourceClass = d.CurrentHost >= 0 ? State.Classes.ClassOf(d.CurrentHost) : -1;
        var sig = Signature(guest);
        var list = new List<string>();
        foreach (var cls in State.Classes.All)
            if (StaticVerdict(guest, sig, source, sourceClass, cls.Id).Length == 0)
                list.AddRange(cls.Members.Where(h => h != d.CurrentHost).Select(h => State.Hosts[h].Name));
        list.Sort(StringComparer.Ordinal);
        return list;
    }

    // ---- reservations -------------------------------------------------------------------------------

    public IReadOnlyCollection<Reservation> Reservations => _reservations.Values;

    /// <summary>Holds the guest's resources on the host until committed, released or expired.</summary>
    public Reservation Reserve(Guest guest, string host, DateTimeOffset now, TimeSpan ttl)
    {
        var h = State.HostIndex(host);
        var d = State.Demand(guest);
        var r = new Reservation(_nextReservation++, guest.Name, host, now + ttl) { Demand = d, HostIndex = h };
        State.Add(d, h, reserved: true);
        _reservations.Add(r.Id, r);
        return r;
    }

    /// <summary>Places the guest and reserves the chosen host in one step; null when nothing fits.</summary>
    public (PlacementResult Result, Reservation? Reservation) PlaceAndReserve(Guest guest, DateTimeOffset now, TimeSpan ttl, PlaceOptions? options = null)
    {
        var result = Place(guest, options);
        return (result, result.Host is { } host ? Reserve(guest, host, now, ttl) : null);
    }

    /// <summary>The guest started: its resources stay taken but are no longer pending.</summary>
    public void Commit(long reservationId)
    {
        if (!_reservations.Remove(reservationId, out var r)) throw new KeyNotFoundException($"no reservation {reservationId}");
        State.Unreserve(r.Demand, r.HostIndex);
    }

    public void Release(long reservationId)
    {
        if (!_reservations.Remove(reservationId, out var r)) throw new KeyNotFoundException($"no reservation {reservationId}");
        State.Remove(r.Demand, r.HostIndex, reserved: true);
    }

    /// <summary>Releases every reservation that expired at or before <paramref name="now"/>; returns how many.</summary>
    public int ExpireReservations(DateTimeOffset now)
    {
        var expired = _reservations.Values.Where(r => r.ExpiresAt <= now).Select(r => r.Id).ToList();
        foreach (var id in expired) Release(id);
        return expired.Count;
    }

    // ---- static verdicts, memoised per class -------------------------------------------------------

    /// <summary>
    /// The hosts the static constraints admit for this guest (ascending; shared, do not modify) — the only
    /// hosts worth scoring. Dynamic constraints (capacity, free pages, devices) still need checking.
    /// </summary>
    public int[] StaticCandidates(GuestDemand d)
    {
        if (!ReferenceEquals(d.SignatureOwner, this)) { d.SignatureId = Signature(d.Guest); d.SignatureOwner = this; }
        var source = d.CurrentHost >= 0 ? State.Hosts[d.CurrentHost] : null;
        var sourceClass = d.CurrentHost >= 0 ? State.Classes.ClassOf(d.CurrentHost) : -1;
        return StaticallyFeasible(d.Guest, d.SignatureId, source, sourceClass);
    }

    /// <summary>Hosts of every class the static constraints admit, ascending; memoised per (signature, source class).</summary>
    private int[] StaticallyFeasible(Guest guest, int sig, Host? source, int sourceClass)
    {
        if (_feasible.TryGetValue((sig, sourceClass), out var hosts)) return hosts;
        var list = new List<int>();
        foreach (var cls in State.Classes.All)
            if (StaticVerdict(guest, sig, source, sourceClass, cls.Id).Length == 0) list.AddRange(cls.Members);
        list.Sort();
        hosts = [.. list];
        _feasible[(sig, sourceClass)] = hosts;
        return hosts;
    }

    private Rejection[] StaticVerdict(Guest guest, int sig, Host? source, int sourceClass, int cls)
    {
        if (_static.TryGetValue((sig, sourceClass, cls), out var cached)) return cached;
        var input = new StaticInput(guest, State.Classes.All[cls].Representative, source, _rules);
        var reasons = new List<Rejection>();
        foreach (var c in Constraints.Static)
            if (c.Check(input) is { } why) reasons.Add(new Rejection(c.Id, why));
        var verdict = reasons.Count == 0 ? [] : reasons.ToArray();
        _static[(sig, sourceClass, cls)] = verdict;
        return verdict;
    }

    private Rejection[] Materialise(Rejection[] reasons, int h, Host? source)
    {
        var name = State.Hosts[h].Name;
        return [.. reasons.Select(r => r with
        {
            Message = r.Message.Replace(StaticInput.HostToken, "host " + name).Replace(StaticInput.SourceToken, source?.Name ?? "?"),
        })];
    }

    /// <summary>Interned id of everything static constraints read from a guest; equal ids get equal verdicts.</summary>
    private int Signature(Guest g)
    {
        var key = GuestSignature.Of(g);
        if (!_signatures.TryGetValue(key, out var id)) _signatures[key] = id = _signatures.Count;
        return id;
    }
}
