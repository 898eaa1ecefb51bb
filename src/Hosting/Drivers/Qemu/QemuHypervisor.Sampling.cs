using KvmCluster.Hosting.Facts;
using KvmCluster.Policies.Model;
using Microsoft.Extensions.Logging;

namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>
/// Usage samples of the running guests, once per sample interval: the QEMU process's CPU time since the last sample
/// (MHz of this host's threads), the memory the guest really holds (its anonymous resident memory, at most what the
/// balloon leaves it), and its dirty rate, measured by QEMU itself with <c>calc-dirty-rate</c> (page sampling: works
/// under TCG and KVM alike) on a schedule — not only while the guest migrates.
/// </summary>
public sealed partial class QemuHypervisor
{
    /// <summary>calc-dirty-rate's window: a second of the guest's writing, sampled over 4096 pages per GiB (±15 % here).</summary>
    private const int DirtyCalcSeconds = 1;
    private const int DirtySamplePages = 4096;

    public async Task<IReadOnlyDictionary<string, UsageSample>> SampleAsync(CancellationToken cancellationToken)
    {
        var running = _vms.Values.Where(v => v.Role == Role.Running && !v.Qemu.HasExited).ToList();
        // A guest never measured yet gets its first measurement now (once in its life), the others read the one
        // started at their previous sample; then every guest starts the next.
        var first = running.Where(v => !v.DirtyCalcStarted && v.DirtyMiBps is null).ToList();
        foreach (var vm in first) await StartDirtyCalc(vm, cancellationToken);
        if (first.Count > 0) await Task.Delay(TimeSpan.FromSeconds(DirtyCalcSeconds + 0.2), cancellationToken);
        var samples = new SortedDictionary<string, UsageSample>(StringComparer.Ordinal);
        foreach (var vm in running)
        {
            var dirty = vm.DirtyMiBps ?? await ReadDirtyRate(vm, cancellationToken);
            samples[vm.Spec.Name] = new UsageSample(CpuMhz(vm), await ResidentMiB(vm, cancellationToken), dirty);
            if (vm.DirtyMiBps is null) await StartDirtyCalc(vm, cancellationToken);
        }
        return samples;
    }

    /// <summary>Mean CPU since the last sample, in MHz of this host's threads (0 for a guest's first sample).</summary>
    private double CpuMhz(Vm vm)
    {
        var now = DateTime.UtcNow;
        var seconds = vm.Qemu.Process.TotalProcessorTime.TotalSeconds;
        var (lastSeconds, lastAt) = vm.LastCpu;
        vm.LastCpu = (seconds, now);
        if (lastAt == default) return 0;
        return (seconds - lastSeconds) / Math.Max(0.001, (now - lastAt).TotalSeconds) * _mhzPerThread;
    }

    /// <summary>
    /// What a migration's first pass would send: the QEMU process's anonymous and hugetlbfs resident memory (pages the
    /// guest never touched are not there), at most the memory the balloon leaves the guest.
    /// </summary>
    private async Task<double> ResidentMiB(Vm vm, CancellationToken cancellationToken)
    {
        double memory = vm.Spec.MemoryMiB;
        try { memory = (await vm.Qemu.Qmp.ExecuteAsync("query-balloon", timeout: Timeout, cancellationToken: cancellationToken)).GetProperty("actual").GetDouble() / (1024 * 1024); }
        catch (QmpException) { } // no balloon driver in the guest yet: all of it
        if (ProcessStatus.ResidentKiB(vm.Qemu.Process.Id) is { } kib) memory = Math.Min(memory, kib / 1024.0);
        return Math.Round(memory, 1);
    }

    private async Task StartDirtyCalc(Vm vm, CancellationToken cancellationToken)
    {
        try
        {
            await vm.Qemu.Qmp.ExecuteAsync("calc-dirty-rate", new Dictionary<string, object> { ["calc-time"] = DirtyCalcSeconds, ["sample-pages"] = DirtySamplePages },
                Timeout, cancellationToken);
            vm.DirtyCalcStarted = true;
        }
        catch (QmpException e) { log.LogDebug("calc-dirty-rate of {Guest}: {Error}", vm.Spec.Name, e.Message); }
    }

    /// <summary>The measurement started at the previous sample (MiB/s), or the last one known while it is still running.</summary>
    private async Task<double> ReadDirtyRate(Vm vm, CancellationToken cancellationToken)
    {
        try
        {
            var r = await vm.Qemu.Qmp.ExecuteAsync("query-dirty-rate", timeout: Timeout, cancellationToken: cancellationToken);
            if (r.GetProperty("status").GetString() == "measured" && r.TryGetProperty("dirty-rate", out var rate)) vm.LastDirtyMiBps = rate.GetDouble();
        }
        catch (QmpException e) { log.LogDebug("query-dirty-rate of {Guest}: {Error}", vm.Spec.Name, e.Message); }
        return vm.LastDirtyMiBps;
    }
}
