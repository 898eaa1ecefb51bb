namespace KvmCluster.Grains;

/// <summary>
/// Writes a grain's state so that writes never overlap (storage refuses a second write with the first's etag) and
/// changes made while one is in flight share the next: a burst of changes costs a few writes, each caller returns
/// once a write holding its change is stored.
/// </summary>
public sealed class CoalescedWrites(Func<Task> write)
{
    private Task? _inFlight;
    private bool _dirty;

    public async Task Write()
    {
        _dirty = true;
        while (_inFlight is { IsCompleted: false } pending)
        {
            try { await pending; } catch { /* its callers see its failure; this one writes again */ }
        }
        if (!_dirty) return; // a write that started after this change already holds it
        _dirty = false;
        _inFlight = write();
        await _inFlight;
    }
}

/// <summary>The bucket a name falls in: FNV-1a, stable across processes and versions (string.GetHashCode is not).</summary>
public static class StableBucket
{
    public static int Of(string name, int buckets)
    {
        var h = 2166136261u;
        foreach (var c in name) h = (h ^ c) * 16777619u;
        return (int)(h % (uint)buckets);
    }
}
