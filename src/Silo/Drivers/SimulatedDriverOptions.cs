namespace KvmCluster.Silo.Drivers;

/// <summary>The simulated hypervisor's host (what `--driver simulated` pretends to be) and its migration speed.</summary>
public sealed class SimulatedDriverOptions
{
    public int Threads { get; set; } = 32;
    public double MhzPerThread { get; set; } = 2400;
    public long MemoryMiB { get; set; } = 256 * 1024;
    public string CpuModel { get; set; } = "Skylake-Server";
    /// <summary>Guest CPU load reported as a fraction of its vCPUs.</summary>
    public double GuestLoad { get; set; } = 0.3;
    /// <summary>Migration bandwidth when the order has none (MiB/s).</summary>
    public double BandwidthMiBps { get; set; } = 1000;
    /// <summary>Simulated seconds per real second for transfers (10 = a 4 s migration takes 0.4 s).</summary>
    public double TimeScale { get; set; } = 1;
    /// <summary>Address incoming migrations listen on (the hypervisor's migration network address).</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";
}
