namespace KvmCluster.Grains.Scheduling;

public sealed class SchedulerOptions
{
    /// <summary>How often the active policy is evaluated; zero turns the timer off (plans only on request).</summary>
    public TimeSpan PlanningInterval { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary>How long a placement holds its host before the launch must have happened.</summary>
    public TimeSpan ReservationTtl { get; set; } = TimeSpan.FromMinutes(2);
    /// <summary>Plans kept for the API.</summary>
    public int PlansKept { get; set; } = 50;
}
