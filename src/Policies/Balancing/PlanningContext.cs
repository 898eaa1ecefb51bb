using KvmCluster.Policies.Migration;

namespace KvmCluster.Policies.Balancing;

/// <summary>A migration that happened recently; balancers leave such guests alone for a while (no ping-pong).</summary>
public sealed record RecentMigration(string Guest, string From, string To, DateTimeOffset At);

/// <summary>What a planning round knows besides the snapshot and the policy.</summary>
public sealed record PlanningContext
{
    public required DateTimeOffset Now { get; init; }
    public IReadOnlyList<RecentMigration> RecentMigrations { get; init; } = [];
    /// <summary>A guest moved less than this long ago is not moved again by a balancer (maintenance still moves it).</summary>
    public TimeSpan MinimumResidence { get; init; } = TimeSpan.FromMinutes(30);
    /// <summary>The migration network, for predicting migration cost.</summary>
    public MigrationLink Link { get; init; } = MigrationLink.TenGigabit;

    public bool MovedRecently(string guest) =>
        RecentMigrations.Any(m => m.Guest == guest && Now - m.At < MinimumResidence);
}
