using KvmCluster.Grains.Contracts;
using Orleans.Concurrency;

namespace KvmCluster.Grains.Events;

[GenerateSerializer, Alias("kvm.EventLogState")]
public sealed class EventLogState
{
    [Id(0)] public List<EventRecord> Events { get; set; } = [];
    [Id(1)] public long NextSequence { get; set; } = 1;
}

/// <summary>Events appended since the log was last archived: small, so writing it on every append is cheap.</summary>
[GenerateSerializer, Alias("kvm.EventJournalState")]
public sealed class EventJournalState
{
    [Id(0)] public List<EventRecord> Events { get; set; } = [];
}

/// <summary>
/// The cluster's decisions and actions with their reasons, newest last, capped. An append returns once its events are
/// in storage (in a small journal; concurrent appends share one write), so an event is never lost once the action it
/// records was acknowledged. On a timer the journal is folded into the capped archive.
/// </summary>
[Reentrant]
public sealed class EventLogGrain(
    [PersistentState("events", StorageNames.Store)] IPersistentState<EventLogState> archive,
    [PersistentState("event-journal", StorageNames.Store)] IPersistentState<EventJournalState> journal) : Grain, IEventLogGrain
{
    public const int Capacity = 5000;
    private Task? _journalWrite;
    private bool _journalDirty;
    private bool _archiving;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A crash between archiving and clearing the journal leaves events in both: the sequence tells them apart.
        var last = archive.State.Events.Count > 0 ? archive.State.Events[^1].Sequence : 0;
        foreach (var e in journal.State.Events.Where(e => e.Sequence > last)) archive.State.Events.Add(e);
        archive.State.NextSequence = Math.Max(archive.State.NextSequence, archive.State.Events.Select(e => e.Sequence + 1).DefaultIfEmpty(1).Max());
        Trim();
        this.RegisterGrainTimer(Archive, new GrainTimerCreationOptions(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)) { KeepAlive = true });
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => await Archive();

    public async Task Append(IReadOnlyList<EventRecord> events)
    {
        foreach (var e in events)
        {
            var numbered = e with { Sequence = archive.State.NextSequence++ };
            archive.State.Events.Add(numbered);
            journal.State.Events.Add(numbered);
        }
        Trim();
        // A burst (thousands of placements) folds into the archive early: the journal, written on every append, stays small.
        if (journal.State.Events.Count >= JournalFold) _ = FoldEarly();
        await WriteJournal();
    }

    private const int JournalFold = 1000;

    // The timer retries a fold that failed; nothing is lost meanwhile, the journal still holds the events.
    private async Task FoldEarly()
    {
        try { await Archive(); } catch (Exception) { }
    }

    public Task<IReadOnlyList<EventRecord>> Query(string? subject, string? kind, int limit) => Query(subject, kind, null, limit);

    public Task<IReadOnlyList<EventRecord>> Query(string? subject, string? kind, string? actor, int limit)
    {
        IEnumerable<EventRecord> q = archive.State.Events;
        if (!string.IsNullOrEmpty(actor)) q = q.Where(e => e.Actor == actor);
        if (!string.IsNullOrEmpty(subject)) q = q.Where(e => e.Subject == subject || e.Message.Contains(subject, StringComparison.Ordinal));
        if (!string.IsNullOrEmpty(kind)) q = q.Where(e => e.Kind == kind);
        var list = q.ToList();
        if (limit > 0 && list.Count > limit) list = list.GetRange(list.Count - limit, limit);
        return Task.FromResult<IReadOnlyList<EventRecord>>(list);
    }

    public async Task<int> Import(IReadOnlyList<EventRecord> events)
    {
        // Exported events come first, then those recorded since the cluster started again; all numbered afresh.
        var merged = events.Concat(archive.State.Events).ToList();
        for (var i = 0; i < merged.Count; i++) merged[i] = merged[i] with { Sequence = i + 1 };
        archive.State.Events = merged;
        archive.State.NextSequence = merged.Count + 1;
        Trim();
        journal.State.Events.Clear();
        await archive.WriteStateAsync();
        await WriteJournal();
        return events.Count;
    }

    private void Trim()
    {
        var excess = archive.State.Events.Count - Capacity;
        if (excess > 0) archive.State.Events.RemoveRange(0, excess);
    }

    /// <summary>One journal write at a time; appends meanwhile wait for it and share the next.</summary>
    private async Task WriteJournal()
    {
        _journalDirty = true;
        while (_journalWrite is { IsCompleted: false } inFlight)
        {
            try { await inFlight; } catch { /* its callers see its failure; this one writes again */ }
        }
        if (!_journalDirty) return; // a write that started after these events holds them
        _journalDirty = false;
        _journalWrite = journal.WriteStateAsync();
        await _journalWrite;
    }

    /// <summary>Folds the journal into the archive: archive written first, then the journal emptied.</summary>
    private async Task Archive()
    {
        if (_archiving || journal.State.Events.Count == 0) return;
        _archiving = true;
        try
        {
            var folded = journal.State.Events.Count;
            await archive.WriteStateAsync();
            journal.State.Events.RemoveRange(0, Math.Min(folded, journal.State.Events.Count));
            await WriteJournal();
        }
        finally { _archiving = false; }
    }
}
