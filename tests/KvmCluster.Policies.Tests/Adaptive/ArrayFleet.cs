using KvmCluster.Policies.Balancing.Adaptive;
using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Tests.Adaptive;

/// <summary>
/// A minimal in-memory implementation of the adaptive port for unit tests of detectors and selections:
/// capacity is MIPS only, measured use is the sum of requests when built.
/// </summary>
internal sealed class ArrayFleet : IAdaptiveFleet
{
    public readonly List<double> HostMips = [];
    public readonly List<List<int>> Vms = [];
    public readonly List<double> Measured = [];
    public readonly List<(double Mips, double Ram, double Requested, double[] History)> VmData = [];
    private List<List<int>>? _saved;

    public int AddHost(double mips) { HostMips.Add(mips); Vms.Add([]); Measured.Add(0); return HostMips.Count - 1; }

    public int AddVm(int host, double mips, double ram, double requested, params double[] historyNewestFirst)
    {
        VmData.Add((mips, ram, requested, historyNewestFirst));
        Vms[host].Add(VmData.Count - 1);
        Measured[host] += requested;
        return VmData.Count - 1;
    }

    public int HostCount => HostMips.Count;
    public double HostTotalMips(int host) => HostMips[host];
    public double HostUtilizationMips(int host) => Measured[host];
    public double MaxVmMigrationSeconds(int host) => Vms[host].Select(v => VmData[v].Ram / 62.5).DefaultIfEmpty(0).Max();
    public double VmMigrationSeconds(int host, int vm) => VmData[vm].Ram / 62.5;
    public IReadOnlyList<int> VmsOn(int host) => Vms[host];
    public bool IsSuitable(int host, int vm) => Vms[host].Sum(v => VmData[v].Requested) + VmData[vm].Requested <= HostMips[host];
    public bool Create(int host, int vm) { Vms[host].Add(vm); return true; }
    public void Destroy(int host, int vm) => Vms[host].Remove(vm);
    public bool IsMigratingIn(int host, int vm) => false;
    public ReadOnlySpan<double> AllocatedMips => Vms.Select(l => l.Sum(v => VmData[v].Requested)).ToArray();
    public PowerModel HostPowerModel(int host) => PowerModel.HpMl110G5;
    public bool InMigration(int vm) => false;
    public double VmMips(int vm) => VmData[vm].Mips;
    public double VmRam(int vm) => VmData[vm].Ram;
    public double VmRequestedMips(int vm) => VmData[vm].Requested;
    public double VmCurrentMips(int vm) => VmData[vm].Requested;
    public ReadOnlySpan<double> VmHistory(int vm) => VmData[vm].History;
    public void SaveAllocation() => _saved = [.. Vms.Select(l => l.ToList())];
    public void RestoreAllocation() { for (var h = 0; h < Vms.Count; h++) Vms[h] = _saved![h]; }
}
