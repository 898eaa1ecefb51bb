namespace KvmCluster.Grains.Ports;

/// <summary>
/// The scheduling domain's clock: when reports were taken, plans made, migrations started and ended. On a silo it is
/// the system clock; when kvmsim replays a trace through a cluster it is the trace's time. Orleans' own timers and
/// membership keep the real clock (TimeProvider), so a replay cannot stall the runtime.
/// </summary>
public sealed class FleetClock(TimeProvider time)
{
    public static FleetClock System { get; } = new(TimeProvider.System);

    public DateTimeOffset Now => time.GetUtcNow();
}
