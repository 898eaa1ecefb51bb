using KvmCluster.Sim.Datacenter;

namespace KvmCluster.Sim.Engine;

public enum HostPower
{
    On,
    Off,
    Booting,
}

/// <summary>A host in the simulator: its scheduler, its VMs (in CloudSim's order), RAM and bandwidth, and its meters.</summary>
public sealed class SimHost
{
    public int Id { get; }
    public HostType Type { get; }
    /// <summary>Position of <see cref="Type"/> in the datacenter's host types.</summary>
    public int TypeIndex { get; init; }
    public SimScheduler Scheduler { get; }
    public readonly List<int> Vms = new(8);
    public readonly List<int> MigratingIn = new(2);
    public int RamAvailable;
    public long BwAvailable;
    public int HugepagesFree;
    public readonly Dictionary<int, (int Ram, long Bw)> Reserved = new(8);
    public double UtilizationMips;
    public double PreviousUtilizationMips;
    public HostStateAccumulator State;
    /// <summary>Largest RAM among the VMs on the host (int.MinValue when empty, as CloudSim starts its max).</summary>
    public int MaxVmRam = int.MinValue;
    /// <summary>Requested MIPS of the VMs running here (not those migrating in), at the last update.</summary>
    public double RequestedMipsHere;
    // Native mode: energy integrated per host, up to EnergyAt, where the utilisation was EnergyU.
    public double EnergyJoules;
    public double EnergyAt;
    public double EnergyU;

    // Native mode only: power state and when a boot finishes.
    public HostPower Power = HostPower.On;
    public double BootedAt;

    public SimHost(int id, HostType type, List<int>?[] migratingOutOn)
    {
        Id = id;
        Type = type;
        Scheduler = new SimScheduler(type.MipsPerPe, type.Pes, id, migratingOutOn);
        RamAvailable = type.RamMiB;
        BwAvailable = type.BwKbps;
        HugepagesFree = type.Hugepages2M;
    }

    public double TotalMips => Scheduler.Capacity;

    /// <summary>Utilisation as CloudSim reports it: 1 &lt; u &lt; 1.01 counts as 1.</summary>
    public static double Capped(double u) => u > 1 && u < 1.01 ? 1 : u;
    public double Utilization => Capped(UtilizationMips / TotalMips);
    public double PreviousUtilization => Capped(PreviousUtilizationMips / TotalMips);
}
