namespace KvmCluster.Hosting.Drivers;

/// <summary>The simulated hypervisor's host (what `--driver simulated` pretends to be), its guests' load and its migration speed.</summary>
public sealed class SimulatedDriverOptions
{
    public int Threads { get; set; } = 32;
    public double MhzPerThread { get; set; } = 2400;
    public long MemoryMiB { get; set; } = 256 * 1024;
    public string CpuModel { get; set; } = "Skylake-Server";
    /// <summary>Guest CPU load reported as a fraction of its vCPUs (guests no load script names).</summary>
    public double GuestLoad { get; set; } = 0.3;
    /// <summary>Scripted loads: each guest's n-th sample takes the n-th value of the first script naming it.</summary>
    public List<GuestLoadScript> Loads { get; set; } = [];
    /// <summary>Migration bandwidth when the order has none (MiB/s).</summary>
    public double BandwidthMiBps { get; set; } = 1000;
    /// <summary>
    /// Simulated seconds per real second: transfers take 1/TimeScale of their simulated time, and usage is sampled
    /// every SampleIntervalSeconds / TimeScale real seconds (10 = a 4 s migration takes 0.4 s, a 300 s sample 30 s).
    /// </summary>
    public double TimeScale { get; set; } = 1;
    /// <summary>Address incoming migrations listen on (the hypervisor's migration network address).</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";
    /// <summary>
    /// With a power controller configured, a simulated host is as powered as the controller's status says (so a
    /// power command or script drives a simulated fleet as it would real hosts).
    /// </summary>
    public bool FollowPowerController { get; set; } = true;
    /// <summary>Simulated seconds a host takes from "on" to reporting as on (real time: divided by TimeScale).</summary>
    public double BootSeconds { get; set; }
}

/// <summary>A scripted load for guests named <see cref="Guests"/> (a name, or a prefix ending in '*').</summary>
public sealed class GuestLoadScript
{
    public string Guests { get; set; } = "*";
    /// <summary>CPU per sample as a fraction of the guest's vCPUs; the last value holds after the script ends.</summary>
    public List<double> Cpu { get; set; } = [];
    /// <summary>Memory dirty rate (MiB/s) reported with each sample.</summary>
    public double DirtyMiBps { get; set; } = 8;

    public bool Names(string guest) => Guests.EndsWith('*') ? guest.StartsWith(Guests[..^1], StringComparison.Ordinal) : guest == Guests;
}
