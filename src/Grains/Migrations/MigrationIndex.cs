using KvmCluster.Grains.Contracts;
using Orleans.Concurrency;

namespace KvmCluster.Grains.Migrations;

/// <summary>
/// Every migration record kept, by id, spread over <see cref="Buckets"/> grains by a stable hash (<see cref="StableBucket"/>, as the guest
/// directory). A read of an unknown id asks its bucket instead of activating a migration grain for it, and an export
/// finds every record without scanning storage.
/// </summary>
public static class MigrationIndex
{
    public const int Buckets = 64;

    public static IMigrationIndexGrain For(IGrainFactory grains, string migration) => grains.GetGrain<IMigrationIndexGrain>(Bucket(migration));

    public static Task<bool> Contains(IGrainFactory grains, string migration) =>
        KvmCluster.Policies.Model.GuestName.IsValid(migration) ? For(grains, migration).Has(migration) : Task.FromResult(false);

    public static async Task<IReadOnlyList<string>> All(IGrainFactory grains)
    {
        var parts = await Task.WhenAll(Enumerable.Range(0, Buckets).Select(b => grains.GetGrain<IMigrationIndexGrain>(Key(b)).All()));
        return [.. parts.SelectMany(p => p).Order(StringComparer.Ordinal)];
    }

    private static string Bucket(string migration) => Key(StableBucket.Of(migration, Buckets));

    private static string Key(int bucket) => $"{Cluster.Key}-{bucket:D2}";
}

[Alias("kvm.IMigrationIndexGrain")]
public interface IMigrationIndexGrain : IGrainWithStringKey
{
    /// <summary>Adds (true) or removes (false) a migration's id; returns once it is stored.</summary>
    [Alias("Set")] Task Set(string migration, bool kept);
    [Alias("Has"), AlwaysInterleave] Task<bool> Has(string migration);
    [Alias("All"), AlwaysInterleave] Task<IReadOnlyList<string>> All();
}

[GenerateSerializer, Alias("kvm.MigrationIndexState")]
public sealed class MigrationIndexState
{
    [Id(0)] public HashSet<string> Ids { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>One bucket of <see cref="MigrationIndex"/>; concurrent changes share one write.</summary>
[Reentrant]
public sealed class MigrationIndexGrain(
    [PersistentState("migration-index", StorageNames.Store)] IPersistentState<MigrationIndexState> state) : Grain, IMigrationIndexGrain
{
    private readonly CoalescedWrites _writes = new(state.WriteStateAsync);

    public async Task Set(string migration, bool kept)
    {
        if (kept ? !state.State.Ids.Add(migration) : !state.State.Ids.Remove(migration)) return;
        await _writes.Write();
    }

    public Task<bool> Has(string migration) => Task.FromResult(state.State.Ids.Contains(migration));

    public Task<IReadOnlyList<string>> All() => Task.FromResult<IReadOnlyList<string>>([.. state.State.Ids]);
}
