using KvmCluster.Sim.Traces;

namespace KvmCluster.Sim.Engine;

/// <summary>A VM in the simulator: its type, its workload, its CPU history and where it is.</summary>
public sealed class SimVm(int id, string name, double mips, int ram, long bw, VmWorkload workload)
{
    public const int HistoryLength = 30;

    public int Id { get; } = id;
    public string Name { get; } = name;
    public double Mips { get; } = mips;
    public int Ram { get; } = ram;
    public long Bw { get; } = bw;
    public VmWorkload Workload { get; } = workload;

    /// <summary>The host that owns it (CloudSim's vm.getHost / the allocation table), or −1.</summary>
    public int Host = -1;
    public bool InMigration;
    public bool BeingInstantiated = true;
    /// <summary>CloudSim destroyed it as "completed" (it requested 0 MIPS); it takes no further part.</summary>
    public bool Removed;
    /// <summary>The workload has started (CloudSim submits cloudlets 0.1 s after the VMs).</summary>
    public bool Started;
    /// <summary>Time of the last processing update: requests are the utilisation at this instant.</summary>
    public double ProcessedAt;
    /// <summary>Time of the last history sample.</summary>
    public double SampledAt;
    /// <summary>CPU utilisation history, newest first, at most 30 samples.</summary>
    public double[] History = [];
    public VmStateAccumulator State;

    public double RequestedMips => BeingInstantiated ? Mips : Started ? Workload.UtilizationAt(ProcessedAt) * Mips : 0;
    public double MipsAt(double time) => Started ? Workload.UtilizationAt(time) * Mips : 0;

    public void AddHistory(double utilization)
    {
        if (History.Length < HistoryLength)
        {
            var longer = new double[History.Length + 1];
            Array.Copy(History, 0, longer, 1, History.Length);
            History = longer;
        }
        else Array.Copy(History, 0, History, 1, HistoryLength - 1);
        History[0] = utilization;
    }
}
