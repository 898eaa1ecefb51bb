using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Planning;

/// <summary>A host as the executor sees it: its power state, the guests on it and when it last reported.</summary>
/// <param name="ReportedAt">When its latest report arrived; null when it does not report (powered off, its silo gone).</param>
public sealed record HostSighting(PowerState Power, DateTimeOffset? ReportedAt, IReadOnlyList<string> Guests);

/// <summary>
/// The fleet as it is now, for the plan executor: the live scheduler answers from its host reports, the simulator from
/// its datacenter. Pure reads; the executor never changes anything through it.
/// </summary>
public interface IExecutionView
{
    DateTimeOffset Now { get; }

    /// <summary>The fleet as a snapshot, to re-check a wave's migrations when it starts (asked for only then).</summary>
    FleetSnapshot Fleet();

    /// <summary>The host, or null when it is unknown or unreachable (and not known to be off).</summary>
    HostSighting? Host(string name);

    /// <summary>Migrations in flight now (any, not only this plan's).</summary>
    IReadOnlyList<InFlightMigration> InFlight { get; }
}

/// <summary>A migration under way: the guest occupies both hosts until it ends.</summary>
public sealed record InFlightMigration(string Guest, string From, string To);
