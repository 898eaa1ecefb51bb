namespace KvmCluster.Policies.Rules;

/// <summary>
/// How a plan's power actions are carried out (section <c>power</c>), whichever balancer proposed them. A power-on
/// completes when the booted host has reported as on; a power-off only once its host is empty and the power
/// controller's status says it is off. Either failing within its time stops the plan (VMware DPM and oVirt give up
/// on a host that does not come back in about 10 minutes).
/// </summary>
public sealed record PowerActionSettings
{
    /// <summary>A powered-on host must report as on within this time.</summary>
    public double BootTimeoutMinutes { get; init; } = 10;
    /// <summary>A host to power off must be empty, and then report off, each within this time.</summary>
    public double PowerOffTimeoutMinutes { get; init; } = 10;
}
