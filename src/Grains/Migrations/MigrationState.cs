using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Model;

namespace KvmCluster.Grains.Migrations;

[GenerateSerializer, Alias("kvm.MigrationState")]
public sealed class MigrationState
{
    [Id(0)] public MigrationOrder? Order { get; set; }
    [Id(1)] public Guest? Guest { get; set; }
    [Id(2)] public MigrationStatus Status { get; set; }
    [Id(3)] public string? Reason { get; set; }
    [Id(4)] public MigrationProgress? Progress { get; set; }
    [Id(5)] public DateTimeOffset CreatedAt { get; set; }
    [Id(6)] public DateTimeOffset? EndedAt { get; set; }
    [Id(7)] public string? Endpoint { get; set; }
    [Id(8)] public DateTimeOffset Deadline { get; set; }

    public bool IsFinal => Status is MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled;
}

public sealed class MigrationGrainOptions
{
    /// <summary>How often an active migration checks its deadline and that its source is still alive.</summary>
    public TimeSpan WatchdogInterval { get; set; } = TimeSpan.FromSeconds(2);
    /// <summary>Reminder that wakes an unfinished migration after a silo restart.</summary>
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary>The escalation schedule looks at a migration's progress this often (see MigrationEscalation).</summary>
    public TimeSpan EscalationWindow { get; set; } = TimeSpan.FromSeconds(3);
}
