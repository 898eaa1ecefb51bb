using KvmCluster.Policies.Constraints;
using KvmCluster.Policies.Scoring;

namespace KvmCluster.Policies.Placement;

/// <summary>
/// The answer to "where should this guest go?": the chosen host and its score broken down by scorer, and —
/// when explained — every rejected host with every reason.
/// </summary>
public sealed record PlacementResult
{
    public required string Guest { get; init; }
    /// <summary>The chosen host, or null when no host passes every constraint.</summary>
    public string? Host { get; init; }
    public double Score { get; init; }
    public IReadOnlyList<ScoreTerm> Breakdown { get; init; } = [];
    /// <summary>Hosts that passed every constraint.</summary>
    public int Feasible { get; init; }
    /// <summary>Every rejected host with its reasons; empty when placement ran without explanations.</summary>
    public IReadOnlyList<HostRejection> Rejected { get; init; } = [];
    public bool Placed => Host is not null;

    public override string ToString() => Placed
        ? $"{Guest} → {Host} (score {Score:0.000}: {string.Join(", ", Breakdown)}; {Feasible} feasible host(s), {Rejected.Count} rejected)"
        : $"{Guest}: no host fits ({Rejected.Count} rejected)";
}

/// <summary>Resources held for a guest between the decision and its start, so concurrent decisions don't double-book.</summary>
public sealed record Reservation(long Id, string Guest, string Host, DateTimeOffset ExpiresAt)
{
    internal GuestDemand Demand { get; init; } = null!;
    internal int HostIndex { get; init; }
}

public sealed record PlaceOptions
{
    /// <summary>Collect every rejected host with reasons (for operators). Off for bulk placement.</summary>
    public bool Explain { get; init; } = true;
    /// <summary>Let a running guest "stay" on its current host (balancers comparing moves with staying).</summary>
    public bool AllowCurrentHost { get; init; }

    public static readonly PlaceOptions Explained = new();
    public static readonly PlaceOptions Fast = new() { Explain = false };
}
