using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Planning;

namespace KvmCluster.Policies.Balancing;

/// <summary>A migration that happened recently; balancers leave such guests alone for a while (no ping-pong).</summary>
public sealed record RecentMigration(string Guest, string From, string To, DateTimeOffset At);

/// <summary>What a planning round knows besides the snapshot and the policy.</summary>
public sealed record PlanningContext
{
    /// <summary>A guest moved less than this long ago is not moved again by a balancer (maintenance still moves it).</summary>
    public static readonly TimeSpan DefaultMinimumResidence = TimeSpan.FromMinutes(30);

    public required DateTimeOffset Now { get; init; }
    public IReadOnlyList<RecentMigration> RecentMigrations { get; init; } = [];
    /// <summary>Migrations under way: their guests are not moved again, and they occupy their destinations too.</summary>
    public IReadOnlyList<InFlightMigration> InFlight { get; init; } = [];
    public TimeSpan MinimumResidence { get; init; } = DefaultMinimumResidence;
    /// <summary>The migration network, for predicting migration cost.</summary>
    public MigrationLink Link { get; init; } = MigrationLink.TenGigabit;

    /// <summary>Moved less than <see cref="MinimumResidence"/> ago, or moving now: a balancer leaves it where it is.</summary>
    public bool MovedRecently(string guest) =>
        IsMoving(guest) || RecentMigrations.Any(m => m.Guest == guest && Now - m.At < MinimumResidence);

    public bool IsMoving(string guest) => InFlight.Any(m => m.Guest == guest);

    /// <summary>
    /// The recent migrations worth keeping at <paramref name="now"/>: those a round can still see. The scheduler and the
    /// simulator both keep their lists with this, so they remember the same moves.
    /// </summary>
    public static List<RecentMigration> StillRecent(IEnumerable<RecentMigration> recent, DateTimeOffset now) =>
        [.. recent.Where(m => now - m.At < DefaultMinimumResidence)];
}
