namespace KvmCluster.Policies.Migration;

/// <summary>
/// A pre-copy live-migration model, pass by pass as QEMU runs it: the first pass sends all of RAM; each
/// later pass re-sends what the guest dirtied meanwhile (at most its working set); when what is left fits
/// in bandwidth × downtime-limit, the guest pauses and the rest is sent unthrottled (the downtime).
/// Local disks the move copies go first, at the capped link speed (the executor starts the memory once they are).
/// Escalations follow the executor's schedule: raise the downtime limit in steps, throttle a CPU-bound
/// dirtier (auto-converge: 20 %, then +10 % per pass, at most 99 %), switch to post-copy, or cancel.
/// </summary>
public static class MigrationCostModel
{
    private const int MaxPasses = 10_000;

    public static MigrationPrediction Predict(MigrationRequest r, MigrationLink link, Escalation? escalation = null)
    {
        var esc = escalation ?? Escalation.None;
        var limit = r.BandwidthMiBps > 0 ? r.BandwidthMiBps : double.PositiveInfinity;
        var stopCopyMiBps = link.EffectiveMiBps(0, r.Hugepages); // the guest is paused: nothing competes
        var downtimeLimit = r.DowntimeLimitMs;
        var step = 0;
        var throttle = 0;
        var t = link.SetupMs / 1000;
        double sent = 0, pass = Math.Max(0, r.MemoryMiB);
        if (r.DiskMiB > 0)
        {
            t += r.DiskMiB / Math.Min(limit, link.EffectiveMiBps(0, false));
            sent += r.DiskMiB;
        }
        var passes = new List<double>();
        var expectedDowntimeMs = 0.0;

        while (passes.Count < MaxPasses)
        {
            // Throttling slows only a guest that dirties memory by running; a timer-paced one keeps its rate.
            var dirtyRate = r.CpuBoundDirtying ? r.DirtyMiBps * (1 - throttle / 100.0) : r.DirtyMiBps;
            var bandwidth = Math.Min(limit, link.EffectiveMiBps(dirtyRate, r.Hugepages));
            var passSeconds = pass / bandwidth;

            // Post-copy may start in the middle of a pass: the destination then pulls what it still lacks.
            if (esc.PostCopyAfterSeconds is { } switchAt && t + passSeconds > switchAt)
            {
                var elapsed = Math.Max(0, switchAt - t);
                var sentInPass = Math.Min(pass, bandwidth * elapsed);
                var missing = pass - sentInPass + Math.Min(r.WorkingSetMiB, dirtyRate * elapsed);
                passes.Add(sentInPass);
                // The bandwidth cap holds in post-copy too (the executor sets max-postcopy-bandwidth).
                var pull = missing / Math.Min(limit, link.EffectiveMiBps(0, r.Hugepages));
                return new(MigrationOutcome.CompletesWithPostCopy, switchAt + pull, 1, sent + sentInPass + missing,
                    passes.Count, passes, downtimeLimit, throttle);
            }

            t += passSeconds;
            sent += pass;
            passes.Add(pass);
            if (t > esc.CancelAfterSeconds) break;

            var dirtied = Math.Min(r.WorkingSetMiB, dirtyRate * passSeconds);
            // QEMU stops the guest when what is left can be sent within downtime-limit at the pass's bandwidth.
            while (dirtied > bandwidth * downtimeLimit / 1000 && IsStalled(dirtied, pass) && step < esc.DowntimeStepsMs.Count)
                downtimeLimit = Math.Max(downtimeLimit, esc.DowntimeStepsMs[step++]);
            if (dirtied <= bandwidth * downtimeLimit / 1000)
            {
                var downtime = dirtied / stopCopyMiBps;
                var outcome = throttle > 0 ? MigrationOutcome.ConvergesWithAutoConverge
                    : downtimeLimit > r.DowntimeLimitMs ? MigrationOutcome.ConvergesWithRaisedDowntime
                    : MigrationOutcome.Converges;
                return new(outcome, t + downtime, downtime * 1000, sent + dirtied, passes.Count, passes, downtimeLimit, throttle);
            }

            // QEMU's auto-converge trigger: the guest dirtied more than half of what the pass sent.
            if (esc.AutoConverge && dirtied > 0.5 * pass)
                throttle = throttle == 0 ? 20 : Math.Min(99, throttle + 10);
            pass = dirtied;
            expectedDowntimeMs = dirtied / bandwidth * 1000;
        }
        // QEMU's expected-downtime of the last pass tells the operator how far from converging it was.
        return new(MigrationOutcome.NeverConverges, Math.Min(t, esc.CancelAfterSeconds), expectedDowntimeMs, sent, passes.Count, passes, downtimeLimit, throttle);
    }

    /// <summary>A pass that leaves nearly as much dirty memory as it sent made no progress.</summary>
    private static bool IsStalled(double dirtied, double pass) => dirtied >= 0.9 * pass;
}
