namespace KvmCluster.Policies.Model;

/// <summary>
/// Upper bounds on what one guest may ask for. Beyond them a request is refused at the door, so that every sum the
/// core forms over a fleet (a host's memory, vCPUs, disk bytes) stays far inside a long: a guest of
/// <c>memoryMiB: 9223372036854775807</c> once wrapped the capacity check and was placed beside a 64 MiB one.
/// </summary>
public static class ModelLimits
{
    /// <summary>QEMU's own limit on x86 (-smp maxcpus).</summary>
    public const int MaxVCpus = 4096;
    /// <summary>16 TiB of guest RAM.</summary>
    public const long MaxMemoryMiB = 16L * 1024 * 1024;
    /// <summary>1 PiB per disk.</summary>
    public const long MaxDiskGiB = 1024L * 1024;
    public const int MaxDisks = 64;
    public const int MaxPciDevices = 32;
    public const int MaxSriovVfs = 256;
    public const int MaxLabels = 64;
    public const int MaxAffinityRules = 64;
    public const int MaxDevices = 64;
}
