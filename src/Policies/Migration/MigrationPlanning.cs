using KvmCluster.Policies.Model;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Migration;

/// <summary>How the planner turns a guest and the policy's migration settings into a cost-model question.</summary>
public static class MigrationPlanning
{
    /// <summary>
    /// The request for moving <paramref name="g"/>: its resident memory (latest sample, else its size), its
    /// latest dirty rate, and — since the working set is not measured — all resident memory as the bound
    /// on what a pass re-sends. Dirtying is assumed not CPU-bound, so auto-converge is not counted on.
    /// </summary>
    public static MigrationRequest Request(Guest g, MigrationSettings m)
    {
        var resident = g.Usage.LastMemoryMiB > 0 ? Math.Min(g.Usage.LastMemoryMiB, g.MemoryMiB) : g.MemoryMiB;
        return new MigrationRequest(resident, resident, g.Usage.LastDirtyMiBps, m.BandwidthMiBps, m.DowntimeMs,
            g.HugepageSizeKiB is not null, CpuBoundDirtying: false, DiskMiB: CopiedMiB(g));
    }

    /// <summary>The executor's escalation schedule under the policy: downtime steps, auto-converge, post-copy, cancel.</summary>
    public static Escalation Escalation(Guest g, MigrationSettings m)
    {
        m = m.For(g); // as the executor will run it (no post-copy for a guest whose disks are copied)
        var steps = new List<double>();
        for (var d = m.DowntimeMs + 100; d < m.MaxDowntimeMs; d += 100) steps.Add(d);
        if (m.MaxDowntimeMs > m.DowntimeMs) steps.Add(m.MaxDowntimeMs);
        var timeout = m.CompletionTimeoutPerGiB * TimeoutGiB(g);
        return new Escalation
        {
            DowntimeStepsMs = steps,
            AutoConverge = m.AllowAutoConverge,
            PostCopyAfterSeconds = m.AllowPostCopy ? timeout / 2 : null,
            CancelAfterSeconds = timeout,
        };
    }

    /// <summary>Local disk data a move of the guest copies (MiB).</summary>
    public static double CopiedMiB(Guest g) => g.Disks.Sum(d => d.CopiedMiB);

    /// <summary>Shortest time limit of any migration, whatever the guest's size: starting the destination takes seconds.</summary>
    public const double MinimumDeadlineSeconds = 120;

    /// <summary>
    /// The time a migration of <paramref name="g"/> may take before it is cancelled and the guest stays on its source:
    /// the policy's <c>completionTimeoutPerGiB</c> per GiB of memory and copied disk (KubeVirt's rule), at least
    /// <see cref="MinimumDeadlineSeconds"/>. The migration grain applies exactly this.
    /// </summary>
    public static double DeadlineSeconds(Guest g, MigrationSettings m) => Math.Max(MinimumDeadlineSeconds, m.CompletionTimeoutPerGiB * TimeoutGiB(g));

    /// <summary>The GiB a move's time limit is counted in: memory plus the disk data copied (as KubeVirt counts them).</summary>
    public static double TimeoutGiB(Guest g) => Math.Max(1, (g.MemoryMiB + CopiedMiB(g)) / 1024.0);

    public static MigrationPrediction Predict(Guest g, MigrationSettings m, MigrationLink link) =>
        MigrationCostModel.Predict(Request(g, m), link, Escalation(g, m));
}
