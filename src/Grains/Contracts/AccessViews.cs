namespace KvmCluster.Grains.Contracts;

/// <summary>
/// What a token may do, each role including the one before: read the fleet; run guests, migrations and plans; change
/// policies, hosts, power and tokens (as oVirt's and Proxmox's roles separate viewing, operating and administering).
/// </summary>
public enum Role
{
    Viewer = 1,
    Operator = 2,
    Admin = 3,
}

/// <summary>A token as the cluster keeps it: its name, role and when it was made or revoked — never the secret.</summary>
[GenerateSerializer, Immutable, Alias("kvm.TokenView")]
public sealed record TokenView(
    [property: Id(0)] string Name,
    [property: Id(1)] Role Role,
    [property: Id(2)] DateTimeOffset CreatedAt,
    [property: Id(3)] string CreatedBy,
    [property: Id(4)] DateTimeOffset? RevokedAt);

/// <summary>
/// The cluster's API tokens (one grain): each stored as the SHA-256 of its secret — a random 32-byte value, so a fast
/// hash is enough — with its name and role. Every silo's API asks it (through a short cache) who a bearer token is.
/// </summary>
[Alias("kvm.IAccessGrain")]
public interface IAccessGrain : IGrainWithStringKey
{
    /// <summary>Records a new token; 409 if a token of that name exists (revoke it first).</summary>
    [Alias("Create")] Task<TokenView> Create(string name, Role role, string secretHash, string createdBy);
    [Alias("List"), Orleans.Concurrency.AlwaysInterleave] Task<IReadOnlyList<TokenView>> List();
    /// <summary>Revokes a token at once; 404 if there is none of that name.</summary>
    [Alias("Revoke")] Task<TokenView> Revoke(string name);
    /// <summary>The live token whose secret hashes to <paramref name="secretHash"/>, or null.</summary>
    [Alias("Find"), Orleans.Concurrency.AlwaysInterleave] Task<TokenView?> Find(string secretHash);
    /// <summary>Every token with its hash (for `kvmcluster state export`: the document is then as secret as the hashes).</summary>
    [Alias("Export")] Task<IReadOnlyList<TokenRecord>> Export();
    /// <summary>Restores exported tokens into a cluster that has none (409 otherwise).</summary>
    [Alias("Import")] Task<int> Import(IReadOnlyList<TokenRecord> tokens);
}
