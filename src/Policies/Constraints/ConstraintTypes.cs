using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Constraints;

/// <summary>Why one constraint rejects one host, with the numbers that decided it.</summary>
public sealed record Rejection(string ConstraintId, string Message)
{
    public override string ToString() => $"{ConstraintId}: {Message}";
}

/// <summary>Every reason one host was rejected for a guest.</summary>
public sealed record HostRejection(string Host, IReadOnlyList<Rejection> Reasons)
{
    public override string ToString() => $"{Host}: {string.Join("; ", Reasons)}";
}

/// <summary>
/// What a static constraint may look at: the guest, the candidate host's static attributes, the host the
/// guest would leave (for migrations) and the policy. Its answer is memoised per host class, so it must not
/// read per-host counters, and its message must refer to the candidate as <see cref="HostToken"/>.
/// </summary>
public readonly record struct StaticInput(Guest Guest, Host Host, Host? Source, Rules.Policy Policy)
{
    public const string HostToken = "{host}";
    public const string SourceToken = "{source}";
}

public interface IConstraint
{
    /// <summary>Stable identifier used in reasons, events and documentation.</summary>
    string Id { get; }
}

/// <summary>A check on attributes that host classes share (CPU, flags, storage, labels).</summary>
public interface IStaticConstraint : IConstraint
{
    /// <summary>Null when the host is acceptable; otherwise why not.</summary>
    string? Check(in StaticInput input);
}

/// <summary>A check on per-host counters that change as guests arrive and leave (capacity, free pages, devices).</summary>
public interface IDynamicConstraint : IConstraint
{
    /// <summary>False when the constraint cannot reject this guest anywhere, so the hot loop can skip it.</summary>
    bool AppliesTo(GuestDemand demand);
    bool Admits(GuestDemand demand, int host, PlacementState state);
    /// <summary>Why <see cref="Admits"/> said no, with numbers. Only called on rejection.</summary>
    string Explain(GuestDemand demand, int host, PlacementState state);

    /// <summary>
    /// Keeps, in order, the first <paramref name="count"/> hosts of <paramref name="hosts"/> that this constraint
    /// admits and returns how many remain. Hot constraints override it with a tight loop over the state's arrays.
    /// </summary>
    int Filter(GuestDemand demand, int[] hosts, int count, PlacementState state)
    {
        var kept = 0;
        for (var i = 0; i < count; i++)
            if (Admits(demand, hosts[i], state)) hosts[kept++] = hosts[i];
        return kept;
    }
}
