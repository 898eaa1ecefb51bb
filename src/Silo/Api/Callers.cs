using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using KvmCluster.Grains.Contracts;

namespace KvmCluster.Silo.Api;

/// <summary>Who made a request: a token's name and role, or nobody.</summary>
public sealed record Caller(string Name, Role Role)
{
    public const string BootstrapName = "bootstrap";
}

/// <summary>
/// Resolves a bearer token to its caller: this silo's bootstrap token (`--api-token` or the token file, always an
/// admin: it makes the others), or a token the access grain knows. Answers are cached for <see cref="CacheFor"/>, so a
/// request costs no grain call; a token revoked through this silo is forgotten at once, on other silos within that time.
/// </summary>
public sealed class Callers(ApiToken bootstrap, IGrainFactory grains)
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(2);
    private const int MaxCached = 10_000;
    private readonly ConcurrentDictionary<string, (Caller? Caller, DateTime Until)> _cache = new(StringComparer.Ordinal);

    public static string? Bearer(string? authorization)
    {
        const string prefix = "Bearer ";
        return authorization is not null && authorization.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) ? authorization[prefix.Length..].Trim() : null;
    }

    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>The caller a cached answer names, without asking the grain (for the rate limiter, which runs first).</summary>
    public Caller? Known(string? secret)
    {
        if (secret is null) return null;
        if (bootstrap.Matches(secret)) return new Caller(Caller.BootstrapName, Role.Admin);
        return _cache.TryGetValue(Hash(secret), out var c) && c.Until > DateTime.UtcNow ? c.Caller : null;
    }

    public async Task<Caller?> Resolve(string? secret)
    {
        if (string.IsNullOrEmpty(secret) || secret.Length > 256) return null;
        if (bootstrap.Matches(secret)) return new Caller(Caller.BootstrapName, Role.Admin);
        var hash = Hash(secret);
        if (_cache.TryGetValue(hash, out var cached) && cached.Until > DateTime.UtcNow) return cached.Caller;
        var token = await grains.GetGrain<IAccessGrain>(Cluster.Key).Find(hash);
        var caller = token is null ? null : new Caller(token.Name, token.Role);
        if (_cache.Count >= MaxCached) _cache.Clear(); // many unknown tokens: an attack or a leak; start over rather than grow
        _cache[hash] = (caller, DateTime.UtcNow + CacheFor);
        return caller;
    }

    /// <summary>Forgets every cached answer (after a revocation through this silo).</summary>
    public void Forget() => _cache.Clear();
}
