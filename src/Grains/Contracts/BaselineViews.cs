using KvmCluster.Policies.Model;

namespace KvmCluster.Grains.Contracts;

/// <summary>
/// The cluster's CPU baseline (VMware EVC's idea, on QEMU's named models): new guests that leave their CPU at the
/// default get this model, so they can run on and migrate between every host that offers it.
/// </summary>
[Alias("kvm.ICpuBaselineGrain")]
public interface ICpuBaselineGrain : IGrainWithStringKey
{
    [Alias("Get"), Orleans.Concurrency.AlwaysInterleave] Task<string?> Get();
    /// <summary>Sets (a QEMU CPU model name) or clears (null) the baseline; the scheduler hears of it.</summary>
    [Alias("Set")] Task<string?> Set(string? model, string actor);
}

/// <param name="Model">The baseline set, or null.</param>
/// <param name="CommonModels">The QEMU CPU models every reachable host offers: the baselines that leave no host out.</param>
/// <param name="HostsLacking">Hosts whose QEMU cannot run the baseline: they take no baseline guests.</param>
[GenerateSerializer, Immutable, Alias("kvm.BaselineView")]
public sealed record BaselineView(
    [property: Id(0)] string? Model,
    [property: Id(1)] IReadOnlyList<string> CommonModels,
    [property: Id(2)] IReadOnlyList<string> HostsLacking);

public static class CpuBaselines
{
    /// <summary>A guest that left its CPU at the default (qemu64, no flag changes) gets the baseline model.</summary>
    public static Guest Apply(Guest guest, string? baseline) =>
        baseline is not null && guest.Cpu.Mode == CpuMode.Custom && guest.Cpu.Model == "qemu64" && guest.Cpu.Flags.Length == 0
            ? guest with { Cpu = GuestCpu.Named(baseline) }
            : guest;

    public static string? Problem(string? model) =>
        model is null || System.Text.RegularExpressions.Regex.IsMatch(model, "^[A-Za-z0-9._-]{1,64}$") ? null : $"'{model}' is not a QEMU CPU model name";
}
