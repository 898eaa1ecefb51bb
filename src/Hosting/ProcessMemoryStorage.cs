using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;

namespace KvmCluster.Hosting;

/// <summary>
/// Grain state for the embedded modes (a single node, or an in-process fleet sharing one instance): a dictionary of
/// serialized states with etags. Orleans' memory storage routes every read and write through storage grains so it
/// can serve several processes; within one process that costs two grain calls per write for nothing.
/// </summary>
public sealed class ProcessMemoryStorage(IGrainStorageSerializer serializer) : IGrainStorage
{
    private readonly ConcurrentDictionary<(string State, GrainId Grain), (BinaryData Data, string ETag)> _states = new();
    private long _etag;

    public static ProcessMemoryStorage Create(IServiceProvider services) =>
        new(new OrleansGrainStorageSerializer(services.GetRequiredService<Orleans.Serialization.Serializer>()));

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (_states.TryGetValue((stateName, grainId), out var stored))
        {
            grainState.State = serializer.Deserialize<T>(stored.Data);
            grainState.ETag = stored.ETag;
            grainState.RecordExists = true;
        }
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = (stateName, grainId);
        var etag = Interlocked.Increment(ref _etag).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var data = serializer.Serialize(grainState.State);
        // Optimistic concurrency, as real storage does: a stale writer is refused.
        _states.AddOrUpdate(key,
            _ => grainState.ETag is null ? (data, etag) : throw Inconsistent(grainState.ETag, null),
            (_, old) => old.ETag == grainState.ETag ? (data, etag) : throw Inconsistent(grainState.ETag, old.ETag));
        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        _states.TryRemove((stateName, grainId), out _);
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    private static InconsistentStateException Inconsistent(string? expected, string? stored) =>
        new($"stale state: expected etag {expected ?? "(none)"}, stored {stored ?? "(none)"}", stored ?? "", expected ?? "");
}
