using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Events;
using Xunit;

namespace KvmCluster.Silo.Tests;

/// <summary>Group commit: events that arrive while an append is in flight go in the next one; each caller waits
/// for its own events only, and a failed append fails exactly the callers whose events it carried.</summary>
public sealed class EventBatcherTests
{
    private sealed class GatedLog
    {
        public readonly List<IReadOnlyList<EventRecord>> Appends = [];
        public readonly Queue<TaskCompletionSource> Gates = new();

        public Task Append(IReadOnlyList<EventRecord> batch)
        {
            Appends.Add(batch);
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Gates.Enqueue(gate);
            return gate.Task;
        }
    }

    private static EventRecord Event(string guest) =>
        new(0, DateTimeOffset.UnixEpoch, "guest-placed", guest, $"{guest} placed", []);

    [Fact]
    public async Task Events_recorded_during_an_append_go_together_in_the_next_and_each_caller_waits_for_its_own()
    {
        var log = new GatedLog();
        var batcher = new EventBatcher(log.Append);

        var first = batcher.Add(Event("vm-1"));
        var second = batcher.Add(Event("vm-2"));
        var third = batcher.Add(Event("vm-3"));

        Assert.Single(log.Appends);
        Assert.Equal(["vm-1"], log.Appends[0].Select(e => e.Subject));
        Assert.False(first.IsCompleted);

        log.Gates.Dequeue().SetResult();
        await first;
        await WaitFor(() => log.Appends.Count == 2);
        Assert.Equal(["vm-2", "vm-3"], log.Appends[1].Select(e => e.Subject));
        Assert.False(second.IsCompleted);
        Assert.False(third.IsCompleted);

        log.Gates.Dequeue().SetResult();
        await Task.WhenAll(second, third);
        Assert.Equal(2, log.Appends.Count);
    }

    [Fact]
    public async Task An_append_that_completes_at_once_leaves_the_batcher_ready_for_the_next_event()
    {
        // A grain call can complete before it is awaited (the log answered on another thread first). The drain then
        // finishes inside Add; the next event must still be appended — it once waited for ever (a planning round hung).
        var appended = new List<string>();
        var batcher = new EventBatcher(batch => { appended.AddRange(batch.Select(e => e.Subject)); return Task.CompletedTask; });
        await batcher.Add(Event("vm-1")).WaitAsync(TimeSpan.FromSeconds(10));
        await batcher.Add(Event("vm-2")).WaitAsync(TimeSpan.FromSeconds(10));
        await batcher.Add(Event("vm-3")).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["vm-1", "vm-2", "vm-3"], appended);
    }

    [Fact]
    public async Task A_failed_append_fails_only_its_own_callers_and_the_next_event_is_appended_again()
    {
        var log = new GatedLog();
        var batcher = new EventBatcher(log.Append);

        var first = batcher.Add(Event("vm-1"));
        log.Gates.Dequeue().SetException(new IOException("store down"));
        await Assert.ThrowsAsync<IOException>(() => first);

        var later = batcher.Add(Event("vm-2"));
        await WaitFor(() => log.Appends.Count == 2);
        Assert.Equal(["vm-2"], log.Appends[1].Select(e => e.Subject));
        log.Gates.Dequeue().SetResult();
        await later;
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition());
    }
}
