using KvmCluster.Grains.Contracts;
using Orleans.Concurrency;

namespace KvmCluster.Grains.Guests;

[GenerateSerializer, Alias("kvm.GuestDirectoryState")]
public sealed class GuestDirectoryState
{
    [Id(0)] public Dictionary<string, GuestEntry> Guests { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// One bucket of the guest directory (<see cref="GuestDirectory"/>): every guest record whose name hashes here, with
/// where its record says it runs. Guest grains keep it up to date before they acknowledge a change; concurrent changes
/// share one write, and a bucket holds a small share of the fleet, so a write stays small.
/// </summary>
[Reentrant]
public sealed class GuestDirectoryGrain(
    [PersistentState("guest-directory", StorageNames.Store)] IPersistentState<GuestDirectoryState> state) : Grain, IGuestDirectoryGrain
{
    private readonly CoalescedWrites _writes = new(state.WriteStateAsync);

    public async Task Set(string name, GuestEntry? entry)
    {
        if (entry is null ? !state.State.Guests.Remove(name) : state.State.Guests.TryGetValue(name, out var old) && old == entry) return;
        if (entry is not null) state.State.Guests[name] = entry;
        await _writes.Write();
    }

    public Task<IReadOnlyDictionary<string, GuestEntry>> All() =>
        Task.FromResult<IReadOnlyDictionary<string, GuestEntry>>(new Dictionary<string, GuestEntry>(state.State.Guests, StringComparer.Ordinal));

    public Task<bool> Has(string name) => Task.FromResult(state.State.Guests.ContainsKey(name));
}
