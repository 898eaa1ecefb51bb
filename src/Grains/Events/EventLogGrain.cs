using KvmCluster.Grains.Contracts;

namespace KvmCluster.Grains.Events;

[GenerateSerializer, Alias("kvm.EventLogState")]
public sealed class EventLogState
{
    [Id(0)] public List<EventRecord> Events { get; set; } = [];
    [Id(1)] public long NextSequence { get; set; } = 1;
}

/// <summary>
/// The cluster's decisions and actions with their reasons, newest last, capped. Appends are cheap (memory);
/// the log is written to storage on a timer, so a burst of placements costs one write, not thousands.
/// </summary>
public sealed class EventLogGrain(
    [PersistentState("events", StorageNames.Store)] IPersistentState<EventLogState> state) : Grain, IEventLogGrain
{
    public const int Capacity = 5000;
    private bool _dirty;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        this.RegisterGrainTimer(Flush, new GrainTimerCreationOptions(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)) { KeepAlive = true });
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => await Flush();

    public Task Append(IReadOnlyList<EventRecord> events)
    {
        foreach (var e in events)
            state.State.Events.Add(e with { Sequence = state.State.NextSequence++ });
        var excess = state.State.Events.Count - Capacity;
        if (excess > 0) state.State.Events.RemoveRange(0, excess);
        _dirty = true;
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<EventRecord>> Query(string? subject, string? kind, int limit)
    {
        IEnumerable<EventRecord> q = state.State.Events;
        if (!string.IsNullOrEmpty(subject)) q = q.Where(e => e.Subject == subject || e.Message.Contains(subject, StringComparison.Ordinal));
        if (!string.IsNullOrEmpty(kind)) q = q.Where(e => e.Kind == kind);
        var list = q.ToList();
        if (limit > 0 && list.Count > limit) list = list.GetRange(list.Count - limit, limit);
        return Task.FromResult<IReadOnlyList<EventRecord>>(list);
    }

    private async Task Flush()
    {
        if (!_dirty) return;
        _dirty = false;
        await state.WriteStateAsync();
    }
}
