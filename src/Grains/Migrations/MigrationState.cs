using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Migration;
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
    /// <summary>An operator (or the escalation schedule) asked to cancel: a failure is then a cancel.</summary>
    [Id(9)] public bool CancelRequested { get; set; }
    /// <summary>A resume was sent to the destination: its copy may have run, so from then on it is the only copy.</summary>
    [Id(10)] public bool ResumeAttempted { get; set; }
    /// <summary>The source's copy is gone (released, or it was found gone): nothing left to do there.</summary>
    [Id(11)] public bool SourceSettled { get; set; }
    /// <summary>The destination's copy is discarded or runs: nothing left to do there.</summary>
    [Id(12)] public bool DestinationSettled { get; set; }
    /// <summary>Where the guest runs now that the migration ended (null: nowhere, it was lost), and its record's status.</summary>
    [Id(13)] public string? EndHost { get; set; }
    [Id(14)] public GuestStatus EndGuestStatus { get; set; }
    /// <summary>The end is not yet told to the guest record, the event log and the scheduler (repeated until it is).</summary>
    [Id(15)] public bool AnnouncePending { get; set; }

    public bool IsFinal => Status is MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled;

    /// <summary>What has been decided, for hosts that find a QEMU of this migration after a restart.</summary>
    public MigrationDecided Decided => Status switch
    {
        MigrationStatus.Switching or MigrationStatus.Completed or MigrationStatus.PostCopy => MigrationDecided.Complete,
        MigrationStatus.Failing or MigrationStatus.Failed or MigrationStatus.Cancelled => MigrationDecided.Failed,
        _ => MigrationDecided.Undecided,
    };
}

public sealed class MigrationGrainOptions
{
    /// <summary>How often an undecided or unsettled migration looks at both hosts' facts again.</summary>
    public TimeSpan WatchdogInterval { get; set; } = TimeSpan.FromSeconds(2);
    /// <summary>Reminder that wakes an unfinished migration after a silo restart.</summary>
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary>The escalation schedule looks at a migration's progress this often (see MigrationEscalation).</summary>
    public TimeSpan EscalationWindow { get; set; } = TimeSpan.FromSeconds(3);
    /// <summary>A host call that does not answer within this counts as the host being unreachable.</summary>
    public TimeSpan HostTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>
    /// How long a destination may be unreachable after the source handed the guest over before the source resumes it
    /// (the destination's copy stays paused and is discarded when its host is back).
    /// </summary>
    public TimeSpan HandOverGrace { get; set; } = TimeSpan.FromSeconds(60);
    /// <summary>
    /// How long a finished migration's record is kept (its events stay in the event log, within its cap). Checked on
    /// the record's reminder, so a record goes at most a reminder period after its time.
    /// </summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);
}
