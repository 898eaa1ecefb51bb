using System.Collections.Immutable;
using System.ComponentModel;

namespace KvmCluster.Policies.Model;

/// <summary>
/// Recent measurements of one guest, oldest first, one sample per snapshot interval:
/// CPU demand in MHz, resident memory in MiB and the memory dirty rate in MiB/s.
/// </summary>
public sealed record UsageHistory(
    [property: Description("CPU used per sample, MHz.")] ImmutableArray<double> CpuMhz,
    [property: Description("Resident memory per sample, MiB.")] ImmutableArray<double> MemoryMiB,
    [property: Description("Memory dirty rate per sample, MiB/s.")] ImmutableArray<double> DirtyMiBps)
{
    public static readonly UsageHistory Empty = new([], [], []);

    public double LastCpuMhz => CpuMhz.IsDefaultOrEmpty ? 0 : CpuMhz[^1];
    public double LastMemoryMiB => MemoryMiB.IsDefaultOrEmpty ? 0 : MemoryMiB[^1];
    public double LastDirtyMiBps => DirtyMiBps.IsDefaultOrEmpty ? 0 : DirtyMiBps[^1];
    public int Samples => CpuMhz.IsDefaultOrEmpty ? 0 : CpuMhz.Length;

    /// <summary>
    /// This history with <paramref name="sample"/> as its newest entry, keeping the newest <paramref name="keep"/>
    /// samples (at least one). The host agent and the simulator both record with this, so a window is the same
    /// window whichever of them kept it.
    /// </summary>
    public UsageHistory Append(UsageSample sample, int keep)
    {
        keep = Math.Max(1, keep);
        return new UsageHistory(Push(CpuMhz, sample.CpuMhz, keep), Push(MemoryMiB, sample.MemoryMiB, keep), Push(DirtyMiBps, sample.DirtyMiBps, keep));
    }

    /// <summary>
    /// A migration of the guest measured a dirty rate its samples did not show (it did not converge): the newest
    /// dirty-rate sample becomes at least that, so the next plan prices the guest by what it really does.
    /// </summary>
    public UsageHistory WithObservedDirtyRate(double mibps)
    {
        if (DirtyMiBps.IsDefaultOrEmpty) return this with { DirtyMiBps = [mibps] };
        return mibps <= DirtyMiBps[^1] ? this : this with { DirtyMiBps = DirtyMiBps.SetItem(DirtyMiBps.Length - 1, mibps) };
    }

    private static ImmutableArray<double> Push(ImmutableArray<double> values, double value, int keep)
    {
        var old = values.IsDefault ? [] : values;
        var skip = Math.Max(0, old.Length + 1 - keep);
        var b = ImmutableArray.CreateBuilder<double>(Math.Min(keep, old.Length + 1));
        for (var i = skip; i < old.Length; i++) b.Add(old[i]);
        b.Add(value);
        return b.MoveToImmutable();
    }
}
