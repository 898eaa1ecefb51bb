using KvmCluster.Sim.Traces;

namespace KvmCluster.Sim.Engine;

/// <summary>A VM in the simulator: its size, its workload, its CPU history and where it is.</summary>
public sealed class SimVm(int id, string name, double mipsPerPe, int pes, int ram, long bw, VmWorkload workload)
{
    public const int HistoryLength = 30;

    public int Id { get; } = id;
    public string Name { get; } = name;
    /// <summary>Total MIPS (MHz) over all its virtual CPUs.</summary>
    public double Mips { get; } = mipsPerPe * pes;
    public int Pes { get; } = pes;
    public int Ram { get; } = ram;
    public long Bw { get; } = bw;
    public VmWorkload Workload { get; } = workload;
    /// <summary>2 MiB hugepages it needs (native mode, planner policies).</summary>
    public int Hugepages2M { get; init; }
    public string? CpuModel { get; init; }

    /// <summary>The host that owns it (CloudSim's vm.getHost / the allocation table), or −1.</summary>
    public int Host = -1;
    public bool InMigration;
    public bool BeingInstantiated = true;
    /// <summary>The workload has started (CloudSim submits cloudlets 0.1 s after the VMs).</summary>
    public bool Started { get => _started; set { _started = value; Refresh(); } }
    private bool _started;
    /// <summary>It could not be placed when it arrived (no host had room).</summary>
    public bool Rejected;
    /// <summary>It has left: departed, or CloudSim destroyed it as "completed" (it requested 0 MIPS).</summary>
    public bool Gone;
    /// <summary>Time of the last processing update: requests are the utilisation at this instant.</summary>
    public double ProcessedAt { get => _processedAt; set { _processedAt = value; Refresh(); } }
    private double _processedAt;
    private double _utilization; // at ProcessedAt, computed once per update (CloudSim recomputes it each time)
    /// <summary>Time of the last history sample.</summary>
    public double SampledAt;
    /// <summary>CPU utilisation history, newest first, at most 30 samples.</summary>
    public ReadOnlySpan<double> History => _ring.AsSpan(_head, _count);
    private readonly double[] _ring = new double[2 * HistoryLength + 1];
    private int _head = 2 * HistoryLength + 1, _count;
    public VmStateAccumulator State;

    public double RequestedMips => BeingInstantiated ? Mips : _utilization * Mips;
    /// <summary>Utilisation at <see cref="ProcessedAt"/> (0 before the workload starts).</summary>
    public double CurrentUtilization => _utilization;

    private void Refresh() => _utilization = _started ? UtilizationAt(_processedAt) : 0;
    public double MipsAt(double time) => Started ? UtilizationAt(time) * Mips : 0;
    private readonly double _sampleStart = workload.SampleStart;

    public double UtilizationAt(double time) => Workload.UtilizationAt(time - _sampleStart);

    /// <summary>Processes the VM at <paramref name="time"/> (CloudSim's updateVmProcessing): its request from now on.</summary>
    public void Process(double time, in SamplePosition position)
    {
        _processedAt = time;
        _utilization = _started ? Workload.UtilizationAt(time - _sampleStart, position) : 0;
    }

    /// <summary>Where this VM's own clock stands at <paramref name="time"/> (shared by VMs with the same clock).</summary>
    public double LocalTime(double time) => time - _sampleStart;

    /// <summary>
    /// Adds the newest sample. The samples sit newest first in a buffer twice the history's length, written
    /// backwards; only when the front is reached are the newest 30 moved to the back — one move per 30 samples
    /// instead of shifting the whole history every time.
    /// </summary>
    public void AddHistory(double utilization)
    {
        if (_head == 0)
        {
            var keep = Math.Min(_count, HistoryLength - 1);
            Array.Copy(_ring, 0, _ring, HistoryLength + 1, keep);
            _head = HistoryLength + 1;
        }
        _ring[--_head] = utilization;
        if (_count < HistoryLength) _count++;
    }
}
