using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Ports;

namespace KvmCluster.Grains.Access;

[GenerateSerializer, Alias("kvm.AccessState")]
public sealed class AccessState
{
    /// <summary>By secret hash (hex SHA-256).</summary>
    [Id(0)] public Dictionary<string, TokenView> Tokens { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>See <see cref="IAccessGrain"/>. Revoked tokens stay listed (who had access, until when); at most <see cref="Capacity"/> kept.</summary>
public sealed class AccessGrain(
    [PersistentState("access", StorageNames.Store)] IPersistentState<AccessState> state,
    FleetClock clock) : Grain, IAccessGrain
{
    public const int Capacity = 1000;

    public async Task<TokenView> Create(string name, Role role, string secretHash, string createdBy)
    {
        if (KvmCluster.Policies.Model.GuestName.Problem(name) is { } problem) throw ClusterException.Invalid(problem, "name");
        if (!Enum.IsDefined(role)) throw ClusterException.Invalid($"unknown role {(int)role}", "role");
        if (secretHash.Length != 64 || !secretHash.All(Uri.IsHexDigit)) throw ClusterException.Invalid("not a SHA-256 hash", "secretHash");
        if (state.State.Tokens.Values.Any(t => t.Name == name && t.RevokedAt is null))
            throw ClusterException.Conflict($"a token named '{name}' exists; revoke it first", "name");
        if (state.State.Tokens.Count >= Capacity)
        {
            // Forget the oldest revoked token; a fleet with a thousand live tokens must revoke some first.
            var oldest = state.State.Tokens.Where(t => t.Value.RevokedAt is not null).OrderBy(t => t.Value.RevokedAt).Select(t => t.Key).FirstOrDefault()
                ?? throw ClusterException.Conflict($"{Capacity} live tokens: revoke some first");
            state.State.Tokens.Remove(oldest);
        }
        var token = new TokenView(name, role, clock.Now, createdBy, null);
        state.State.Tokens[secretHash] = token;
        await state.WriteStateAsync();
        return token;
    }

    public Task<IReadOnlyList<TokenView>> List() =>
        Task.FromResult<IReadOnlyList<TokenView>>([.. state.State.Tokens.Values.OrderBy(t => t.CreatedAt).ThenBy(t => t.Name, StringComparer.Ordinal)]);

    public async Task<TokenView> Revoke(string name)
    {
        var (hash, token) = state.State.Tokens.FirstOrDefault(t => t.Value.Name == name && t.Value.RevokedAt is null);
        if (hash is null) throw ClusterException.NotFound($"no live token named '{name}'");
        var revoked = token with { RevokedAt = clock.Now };
        state.State.Tokens[hash] = revoked;
        await state.WriteStateAsync();
        return revoked;
    }

    public Task<TokenView?> Find(string secretHash) =>
        Task.FromResult(state.State.Tokens.TryGetValue(secretHash, out var t) && t.RevokedAt is null ? t : null);
}
