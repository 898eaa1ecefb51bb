using KvmCluster.Policies.Migration;

namespace KvmCluster.Grains.Scheduling;

public sealed class SchedulerOptions
{
    /// <summary>How often the active policy is evaluated; zero turns the timer off (plans only on request).</summary>
    public TimeSpan PlanningInterval { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary>How long a placement holds its host before the launch must have happened.</summary>
    public TimeSpan ReservationTtl { get; set; } = TimeSpan.FromMinutes(2);
    /// <summary>Plans kept for the API.</summary>
    public int PlansKept { get; set; } = 50;
    /// <summary>
    /// Placement keeps its engine while hosts and guests stay the same; fresh usage samples are taken in at most this
    /// often (rebuilding on every report would cost a fleet-sized rebuild per report). Zero: always the latest.
    /// </summary>
    public TimeSpan PlacementUsageRefresh { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>Seconds of fleet time between two usage samples in host reports (what the host grains sample at).</summary>
    public double UsageSampleSeconds { get; set; } = 300;
    /// <summary>The migration network, for the cost model's predictions.</summary>
    public MigrationLink MigrationLink { get; set; } = MigrationLink.TenGigabit;
    /// <summary>
    /// False: plans are never executed by the scheduler itself, whatever the policy's automation (kvmsim replays carry
    /// them out in trace time).
    /// </summary>
    public bool ExecutePlans { get; set; } = true;
    /// <summary>How often an executing plan looks at the fleet again (boots, empty hosts, power-off confirmations).</summary>
    public TimeSpan ExecutorTick { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>How often migration grains are asked how their migration went (in case a one-way "ended" was lost).</summary>
    public TimeSpan MigrationPoll { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>A host whose reports stopped this long ago is unreachable, whatever the membership table says.</summary>
    public TimeSpan ReportStaleAfter { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary>How often host reports are reconciled with the guest records (lost, adopted, relocated, duplicated guests).</summary>
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>A record says a guest runs on a host that reported this long after the record without it: the guest is lost.</summary>
    public TimeSpan LostAfter { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>How often the power controller is asked about hosts that do not report (zero: never).</summary>
    public TimeSpan PowerStatusInterval { get; set; } = TimeSpan.FromMinutes(1);
}
