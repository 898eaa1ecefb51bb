namespace KvmCluster.Policies.Ha;

/// <summary>
/// Where a host stands in failure handling, as pve-ha-manager's node states have it (online, unknown, fence, gone):
/// online → suspect (no reports) → fencing (its silo is gone from the cluster) → fenced (powered off and confirmed, or
/// its lease expired, so it has killed its own guests) → recovered (it reports again; its guests run elsewhere now).
/// </summary>
public enum HostHealth
{
    Online,
    Suspect,
    Fencing,
    Fenced,
    Recovered,
}

/// <summary>The host's lease (renewed by the host itself; a host that cannot renew it kills its own guests first).</summary>
public enum LeaseFact
{
    Held,
    Expired,
    Unknown,
}

/// <summary>What the power controller said about fencing the host.</summary>
public enum FenceFact
{
    /// <summary>Not asked (yet), or the host has no power controller.</summary>
    None,
    /// <summary>Powered off, and its status then said off.</summary>
    ConfirmedOff,
    /// <summary>The power-off failed, or the status after it did not say off.</summary>
    Failed,
}

/// <summary>One look at a host: whether it reports, whether its silo is still a cluster member, its lease, its fencing.</summary>
public sealed record HostObservation(bool Reporting, bool SiloActive, LeaseFact Lease, FenceFact Fence, string? FenceError = null);

public sealed record HostFailureState(HostHealth Health, DateTimeOffset Since, string Why)
{
    public static HostFailureState Online(DateTimeOffset now) => new(HostHealth.Online, now, "reports");

    /// <summary>Only a fenced host's guests may start elsewhere: anything less may still run them.</summary>
    public bool MayRestartGuests => Health == HostHealth.Fenced;
}

/// <summary>
/// The pure rule of failure handling: the next state of a host from what is observed now. A host that stops reporting
/// while its silo is still a member, or while it still holds its lease, is partitioned or stuck, not dead: it stays
/// suspect and nothing of it is restarted (vSphere's isolation, oVirt's VM leases). Fencing never ends by time alone:
/// a confirmed power-off or an expired lease ends it; a failed fence keeps it fencing, and says why.
/// </summary>
public static class HostFailure
{
    public static HostFailureState Next(HostFailureState s, HostObservation o, DateTimeOffset now, TimeSpan suspectFor)
    {
        if (o.Reporting && o.SiloActive)
            return s.Health switch
            {
                HostHealth.Online => s,
                HostHealth.Suspect => HostFailureState.Online(now),
                HostHealth.Recovered => HostFailureState.Online(now),
                // Back after fencing: it must not start the guests it had (they run elsewhere now).
                _ => new(HostHealth.Recovered, now, "reports again after it was fenced; its guests are not started again there"),
            };
        return s.Health switch
        {
            HostHealth.Online or HostHealth.Recovered => new(HostHealth.Suspect, now, "no report"),
            HostHealth.Suspect when o.Lease == LeaseFact.Held && o.Fence != FenceFact.ConfirmedOff =>
                s with { Why = "no report, but it still holds its lease: partitioned or stuck, not dead; nothing is restarted" },
            HostHealth.Suspect when o.SiloActive => s with { Why = "no report, but its silo is still a cluster member" },
            HostHealth.Suspect when now - s.Since < suspectFor => s,
            HostHealth.Suspect => Fenced(o, now) ?? new(HostHealth.Fencing, now, "its silo left the cluster"),
            HostHealth.Fencing => Fenced(o, now) ?? s with
            {
                Why = o.Fence == FenceFact.Failed
                    ? $"fencing failed ({o.FenceError ?? "the power controller did not confirm off"}) and its lease is not expired: nothing is restarted"
                    : "waiting for its power-off to be confirmed or its lease to expire",
            },
            _ => s, // fenced stays fenced until it reports again
        };
    }

    private static HostFailureState? Fenced(HostObservation o, DateTimeOffset now) =>
        o.Fence == FenceFact.ConfirmedOff ? new(HostHealth.Fenced, now, "powered off, and its power status says off")
        : o.Lease == LeaseFact.Expired ? new(HostHealth.Fenced, now, "its lease expired: it has stopped its own guests")
        : null;
}
