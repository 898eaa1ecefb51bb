using KvmCluster.Grains.Contracts;

namespace KvmCluster.Grains.Events;

/// <summary>Writing events from any grain: fire the append and do not make the caller wait for the log.</summary>
public static class Events
{
    public static EventRecord New(DateTimeOffset at, string kind, string subject, string message, IReadOnlyList<string>? reasons = null) =>
        new(0, at, kind, subject, message, reasons ?? []);

    public static Task Record(this IGrainFactory grains, params EventRecord[] events) =>
        grains.GetGrain<IEventLogGrain>(Cluster.Key).Append(events);
}
