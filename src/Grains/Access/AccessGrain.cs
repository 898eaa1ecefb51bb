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

    public Task<IReadOnlyList<TokenRecord>> Export() =>
        Task.FromResult<IReadOnlyList<TokenRecord>>([.. state.State.Tokens.OrderBy(t => t.Value.CreatedAt).Select(t => new TokenRecord(t.Key, t.Value))]);

    public async Task<int> Import(IReadOnlyList<TokenRecord> tokens)
    {
        if (state.State.Tokens.Count > 0) throw ClusterException.Conflict($"the cluster has {state.State.Tokens.Count} tokens: import into a cluster without tokens");
        foreach (var (field, message) in Problems(tokens)) throw ClusterException.Invalid(message, field);
        state.State.Tokens = tokens.ToDictionary(t => t.SecretHash.ToLowerInvariant(), t => t.Token, StringComparer.Ordinal);
        await state.WriteStateAsync();
        return state.State.Tokens.Count;
    }

    /// <summary>What is wrong with exported tokens, by the document's field names (checked before anything is imported).</summary>
    public static IEnumerable<(string Field, string Message)> Problems(IReadOnlyList<TokenRecord> tokens)
    {
        if (tokens.Count > Capacity) yield return ("tokens", $"at most {Capacity} tokens");
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < tokens.Count && i < Capacity; i++)
        {
            var (hash, token) = (tokens[i].SecretHash, tokens[i].Token);
            if (hash is null || hash.Length != 64 || !hash.All(Uri.IsHexDigit)) yield return ($"tokens[{i}].secretHash", "not a SHA-256 hash");
            else if (!seen.Add(hash)) yield return ($"tokens[{i}].secretHash", "a secret hash is given twice");
            if (token is null) { yield return ($"tokens[{i}].token", "missing"); continue; }
            if (KvmCluster.Policies.Model.GuestName.Problem(token.Name) is { } problem) yield return ($"tokens[{i}].token.name", problem);
            if (!Enum.IsDefined(token.Role)) yield return ($"tokens[{i}].token.role", $"unknown role {(int)token.Role}");
        }
    }

    public Task<TokenView?> Find(string secretHash) =>
        Task.FromResult(state.State.Tokens.TryGetValue(secretHash, out var t) && t.RevokedAt is null ? t : null);
}
