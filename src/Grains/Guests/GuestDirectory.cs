using KvmCluster.Grains.Contracts;

namespace KvmCluster.Grains.Guests;

/// <summary>
/// The guest directory: every guest record by name, spread over <see cref="Buckets"/> grains by a stable hash of the
/// name (FNV-1a: the same in every process), so that recording one guest writes a bucket, not the fleet.
/// </summary>
public static class GuestDirectory
{
    public const int Buckets = 256;

    public static IGuestDirectoryGrain For(IGrainFactory grains, string guest) => grains.GetGrain<IGuestDirectoryGrain>(Bucket(guest));

    /// <summary>
    /// Whether <paramref name="guest"/> has a record. A read for an unknown name asks its bucket (one of a fixed 256)
    /// instead of activating a guest grain for it: 20,000 made-up names must not cost 20,000 activations.
    /// </summary>
    public static Task<bool> Contains(IGrainFactory grains, string guest) =>
        KvmCluster.Policies.Model.GuestName.IsValid(guest) ? For(grains, guest).Has(guest) : Task.FromResult(false);

    public static async Task<IReadOnlyDictionary<string, GuestEntry>> All(IGrainFactory grains)
    {
        var parts = await Task.WhenAll(Enumerable.Range(0, Buckets).Select(b => grains.GetGrain<IGuestDirectoryGrain>(Key(b)).All()));
        var all = new Dictionary<string, GuestEntry>(StringComparer.Ordinal);
        foreach (var part in parts) foreach (var (k, v) in part) all[k] = v;
        return all;
    }

    private static string Bucket(string guest) => Key(StableBucket.Of(guest, Buckets));

    private static string Key(int bucket) => $"{Cluster.Key}-{bucket:D3}";
}
