namespace KvmCluster.Policies.Migration;

/// <summary>What has been decided about a migration so far.</summary>
public enum MigrationDecided
{
    /// <summary>Nothing yet: the source owns the guest, the destination's copy (if any) is paused.</summary>
    Undecided,
    /// <summary>Complete (or post-copy started): the destination owns the guest.</summary>
    Complete,
    /// <summary>Failed or cancelled: the source owns the guest.</summary>
    Failed,
}

/// <summary>What the source host says of the guest (from QEMU's query-migrate and run state).</summary>
public enum SourceFact
{
    /// <summary>The host did not answer (its silo is gone, or the call timed out).</summary>
    Unreachable,
    /// <summary>QEMU is sending (pre-copy, or paused at the switch-over while disks finish).</summary>
    Sending,
    /// <summary>QEMU completed the transfer and is paused (postmigrate): the destination has everything.</summary>
    HandedOver,
    /// <summary>The guest runs here and no transfer is under way (it failed, or was cancelled).</summary>
    Running,
    /// <summary>The guest is paused here and not migrating.</summary>
    Paused,
    /// <summary>No QEMU of this guest runs here.</summary>
    Gone,
}

/// <summary>What the destination host says of the incoming copy.</summary>
public enum DestinationFact
{
    Unreachable,
    /// <summary>An incoming QEMU is receiving (QEMU's state inmigrate).</summary>
    Receiving,
    /// <summary>The incoming QEMU has the whole guest and waits, paused, for the decision.</summary>
    Received,
    /// <summary>The copy runs (it was resumed: the decision was complete, or post-copy started).</summary>
    Running,
    /// <summary>No incoming copy here (never prepared, discarded, or its QEMU died).</summary>
    Gone,
}

/// <summary>What the migration grain does next.</summary>
public enum Verdict
{
    /// <summary>Nothing is certain yet: look again.</summary>
    Wait,
    /// <summary>Decide complete: go to Switching (resume the destination, release the source).</summary>
    Complete,
    /// <summary>Decide failed: go to Failing (discard the incoming copy, resume the source).</summary>
    Fail,
    /// <summary>Cancel the source's transfer, then decide from what follows.</summary>
    CancelSource,
    /// <summary>No copy of the guest is left anywhere: record it lost.</summary>
    Lost,
}

public sealed record Decision(Verdict Verdict, string Reason);

/// <summary>
/// The single decision point of a live migration, after libvirt's rule: the outcome is decided from facts — the
/// source's transfer state and the destination's run state — never from a timeout alone. A timeout may only ask the
/// source to cancel (which leaves the guest running there) or discard a destination that provably does not hold the
/// whole guest. The destination QEMU stays paused until the decision is complete, so the guest never runs twice, and
/// a copy that may be the only one is never killed.
/// </summary>
public static class MigrationProtocol
{
    /// <param name="phase">Migrating (the only phase decided from facts; the others carry out a decision already made).</param>
    /// <param name="overdue">The migration's deadline has passed.</param>
    /// <param name="sourceSilent">How long the source host has been unreachable, in seconds (0 when it answers).</param>
    /// <param name="graceSeconds">How long to wait for a silent host before deciding without it where that is safe.</param>
    public static Decision Decide(SourceFact source, DestinationFact destination, bool overdue, double sourceSilent = 0, double destinationSilent = 0, double graceSeconds = 60)
    {
        switch (destination)
        {
            case DestinationFact.Received or DestinationFact.Running:
                return new(Verdict.Complete, "the destination holds the whole guest");
            case DestinationFact.Receiving:
                return source switch
                {
                    SourceFact.Running or SourceFact.Paused => new(Verdict.Fail, "the source stopped sending and runs the guest"),
                    SourceFact.Gone => new(Verdict.Lost, "the source's QEMU is gone and the destination never received the whole guest"),
                    _ when overdue && source == SourceFact.Sending => new(Verdict.CancelSource, "it did not complete before its deadline"),
                    // The source host is silent: its QEMU may still be sending (it does not need its silo). The copy
                    // arriving is not whole, so past the deadline it may go — the source keeps (or resumes) the guest.
                    _ when overdue && source == SourceFact.Unreachable => new(Verdict.Fail, "it did not complete before its deadline and the source host is unreachable; the incoming copy is not whole"),
                    _ => new(Verdict.Wait, "the transfer is under way"),
                };
            case DestinationFact.Gone:
                return source switch
                {
                    SourceFact.Gone => new(Verdict.Lost, "neither host has a copy of the guest"),
                    SourceFact.Unreachable => new(Verdict.Wait, "the incoming copy is gone and the source host is unreachable: its copy is resumed when it is back"),
                    _ => new(Verdict.Fail, "the destination has no incoming copy"),
                };
            default: // the destination host is unreachable
                return source switch
                {
                    SourceFact.Running or SourceFact.Paused => new(Verdict.Fail, "the source stopped sending and runs the guest"),
                    SourceFact.Gone => new(Verdict.Wait, "the source's QEMU is gone and the destination host is unreachable: only it can hold the guest"),
                    SourceFact.Sending when overdue => new(Verdict.CancelSource, "it did not complete before its deadline"),
                    // Handed over: the destination may hold the whole guest, paused. It never runs without this
                    // decision, so after a grace period the source may resume; the destination discards its copy when back.
                    SourceFact.HandedOver when destinationSilent >= graceSeconds =>
                        new(Verdict.Fail, $"the destination host has been unreachable for {destinationSilent:0} s since the source handed the guest over; the source resumes it"),
                    _ => new(Verdict.Wait, sourceSilent > 0 ? "neither host answers" : "the destination host is unreachable"),
                };
        }
    }

    /// <summary>
    /// Switching: the destination is resumed, then the source copy released. If the destination's copy is gone before a
    /// resume was ever sent to it, the source (paused at hand-over) resumes instead; once one may have reached it, the
    /// destination's copy may have run, and resuming the source would run the guest twice (a shared disk written by both).
    /// </summary>
    public static Decision DecideSwitching(SourceFact source, DestinationFact destination, bool resumedConfirmed)
    {
        return destination switch
        {
            DestinationFact.Running => new(Verdict.Complete, "the destination runs the guest"),
            DestinationFact.Received => new(Verdict.Wait, "resume the destination"),
            DestinationFact.Receiving => new(Verdict.Wait, "the destination is still receiving (post-copy)"),
            DestinationFact.Gone when !resumedConfirmed && source is SourceFact.HandedOver or SourceFact.Paused or SourceFact.Running =>
                new(Verdict.Fail, "the destination's copy is gone before it ran; the source resumes the guest"),
            DestinationFact.Gone when !resumedConfirmed && source == SourceFact.Unreachable => new(Verdict.Wait, "the destination's copy is gone; the source host is unreachable"),
            DestinationFact.Gone => new(Verdict.Lost, resumedConfirmed ? "the destination ran the guest and its QEMU is gone" : "no copy of the guest is left"),
            _ => new(Verdict.Wait, "the destination host is unreachable"),
        };
    }

    /// <summary>What a restarted host does with a QEMU it found mid-migration, by what has been decided.</summary>
    public static AdoptionVerdict Adopt(MigrationDecided decided, bool isSource) => (decided, isSource) switch
    {
        (MigrationDecided.Complete, true) => AdoptionVerdict.Discard,
        (MigrationDecided.Complete, false) => AdoptionVerdict.Resume,
        (MigrationDecided.Failed, true) => AdoptionVerdict.Resume,
        (MigrationDecided.Failed, false) => AdoptionVerdict.Discard,
        // Still to be decided: keep the copy as it is (paused stays paused) and let the grain decide from facts.
        _ => AdoptionVerdict.Keep,
    };
}

/// <summary>What a host does with a QEMU it adopted mid-migration.</summary>
public enum AdoptionVerdict
{
    /// <summary>Keep it as it is (still migrating, or received and paused): the migration grain decides.</summary>
    Keep,
    /// <summary>Run it: this host owns the guest.</summary>
    Resume,
    /// <summary>Kill it: the other host owns the guest.</summary>
    Discard,
}
