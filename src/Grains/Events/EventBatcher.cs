using KvmCluster.Grains.Contracts;

namespace KvmCluster.Grains.Events;

/// <summary>
/// Group commit at the caller: events recorded while an append is in flight go together in the next one, and each
/// caller's task completes when its own events are stored. A burst of placements costs a few appends, not one each,
/// and none is acknowledged before its event is in the log. Used from one grain's turns (not thread-safe).
/// </summary>
public sealed class EventBatcher(Func<IReadOnlyList<EventRecord>, Task> append)
{
    private List<EventRecord> _waiting = [];
    private TaskCompletionSource? _next;
    private Task? _inFlight;

    public Task Add(EventRecord e)
    {
        _waiting.Add(e);
        _next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var mine = _next.Task;
        // A drain whose appends all completed at once has finished before it is even stored here: look at the task,
        // not at a field the drain clears (that left a finished drain in place and every later event waiting for ever).
        if (_inFlight is null || _inFlight.IsCompleted) _inFlight = Drain();
        return mine;
    }

    private async Task Drain()
    {
        while (_waiting.Count > 0)
        {
            var batch = _waiting;
            var done = _next!;
            _waiting = [];
            _next = null;
            try
            {
                await append(batch);
                done.SetResult();
            }
            catch (Exception e) { done.SetException(e); }
        }
    }
}
