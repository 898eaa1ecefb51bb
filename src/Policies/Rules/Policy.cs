using System.Collections.Immutable;

namespace KvmCluster.Policies.Rules;

/// <summary>What the balancer does with the fleet between placements.</summary>
public enum BalancerKind
{
    /// <summary>Initial placement only; no rebalancing (maintenance evacuation still happens).</summary>
    None,
    /// <summary>Spread CPU and memory load evenly (DRS, oVirt evenly_distributed, Proxmox auto-rebalance).</summary>
    EvenlyDistributed,
    /// <summary>Consolidate and power hosts off and on (DPM, oVirt power_saving).</summary>
    PowerSaving,
    /// <summary>The CloudSim family: overload detector + VM selection + PABFD + underload consolidation.</summary>
    Adaptive,
}

/// <summary>DRS-like automation: who approves a plan.</summary>
public enum AutomationLevel
{
    /// <summary>Plans are only recommended; an operator approves each.</summary>
    Manual,
    /// <summary>Initial placements happen automatically; rebalancing plans wait for approval.</summary>
    Partial,
    /// <summary>Plans execute as soon as they are built.</summary>
    Full,
}

/// <summary>
/// A validated placement and balancing policy. Mandatory KVM constraints are not part of it: a policy can
/// add filters and tune weights, never remove CPU-model, NX, hugepage, passthrough or storage checks.
/// </summary>
public sealed record Policy
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public BalancerKind Kind { get; init; } = BalancerKind.None;
    public AutomationLevel Automation { get; init; } = AutomationLevel.Manual;
    public Overcommit Overcommit { get; init; } = new();
    public ScoreWeights Weights { get; init; } = new();
    public ImmutableArray<ExtraFilter> Filters { get; init; } = [];
    public MigrationSettings Migration { get; init; } = new();
    public EvenlyDistributedSettings EvenlyDistributed { get; init; } = new();
    public PowerSavingSettings PowerSaving { get; init; } = new();
    public AdaptiveSettings Adaptive { get; init; } = new();
    public PowerActionSettings Power { get; init; } = new();
    /// <summary>Seed for every random choice a policy makes (e.g. random VM selection), so plans are reproducible.</summary>
    public long Seed { get; init; } = 1;

    /// <summary>The policy used when none is given: placement only, spread by allocation.</summary>
    public static Policy Default { get; } = new() { Name = "default" };
}

/// <summary>Over-commit ratios: vCPUs per hardware thread and guest memory per MiB of host memory.</summary>
public sealed record Overcommit(double Cpu = 4.0, double Memory = 1.0);

/// <summary>
/// Weights of the normalised (0..1) scorers. Each scorer answers "how good is this host for this guest",
/// and the host with the highest weighted mean wins.
/// </summary>
public sealed record ScoreWeights(
    double Spread = 1,
    double Pack = 0,
    double Power = 0,
    double SoftAffinity = 1,
    double FewestMigrations = 0)
{
    public double Sum => Spread + Pack + Power + SoftAffinity + FewestMigrations;
}

/// <summary>How moves are carried out and how many at once (KubeVirt defaults: 2 per host, 5 per cluster).</summary>
public sealed record MigrationSettings
{
    /// <summary>Allow moving guests with local disks by copying them (block migration).</summary>
    public bool AllowBlockMigration { get; init; }
    public int MaxOutboundPerHost { get; init; } = 2;
    public int MaxInboundPerHost { get; init; } = 2;
    public int MaxConcurrent { get; init; } = 5;
    /// <summary>max-bandwidth per migration in MiB/s; 0 means no cap (as fast as the migration network goes).</summary>
    public double BandwidthMiBps { get; init; }
    /// <summary>Initial downtime-limit in ms (QEMU default 300).</summary>
    public int DowntimeMs { get; init; } = 300;
    /// <summary>Highest downtime-limit the executor may escalate to (oVirt's "Minimal downtime" stops at 500).</summary>
    public int MaxDowntimeMs { get; init; } = 500;
    public bool AllowAutoConverge { get; init; } = true;
    public bool AllowPostCopy { get; init; }
    /// <summary>
    /// A plan may move a guest offline (paused for the whole move, its disks copied) when it cannot move live: local
    /// disks the policy will not copy live, or a migration that would not converge. Its downtime is the whole move.
    /// </summary>
    public bool AllowOffline { get; init; }
    /// <summary>Give up after this many seconds per GiB of guest memory (KubeVirt CompletionTimeoutPerGiB).</summary>
    public int CompletionTimeoutPerGiB { get; init; } = 150;

    /// <summary>
    /// These settings for one guest. A guest whose disks are copied during the move does not switch to post-copy:
    /// its disks must be in step on the destination before that runs it, which only a pre-copy switch-over waits for.
    /// </summary>
    public MigrationSettings For(Model.Guest guest) =>
        AllowPostCopy && guest.CopiesDisksOnMigration ? this with { AllowPostCopy = false } : this;

    /// <summary>
    /// These settings for an offline move: the guest is paused, so nothing dirties its memory or disks — its disks are
    /// copied whatever live block migration allows, and there is nothing to converge (no post-copy, no throttling).
    /// </summary>
    public MigrationSettings Offline() => this with { AllowBlockMigration = true, AllowPostCopy = false, AllowAutoConverge = false };
}
