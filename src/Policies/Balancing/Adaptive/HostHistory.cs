namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>
/// A host's CPU utilisation history as CloudSim derives it: Σ over its VMs of history × VM MIPS / host MIPS,
/// newest first, with trailing zeros trimmed. It moves with the VMs, so it follows tentative moves. An extra
/// VM can be counted as if it had just been placed on the host (PABFD's "overloaded after allocation"): it is
/// added last, as CloudSim's vmCreate appends it, so the sums come out the same to the last bit.
/// </summary>
public static class HostHistory
{
    public const int Length = 30;

    public static double[] Of(IAdaptiveFleet fleet, int host, int extraVm = -1)
    {
        Span<double> sums = stackalloc double[Length];
        var n = Fill(fleet, host, extraVm, sums);
        return sums[..n].ToArray();
    }

    /// <summary>Writes the history into <paramref name="sums"/> (30 long) and returns its trimmed length.</summary>
    public static int Fill(IAdaptiveFleet fleet, int host, int extraVm, Span<double> sums)
    {
        sums.Clear();
        var hostMips = fleet.HostTotalMips(host);
        foreach (var vm in fleet.VmsOn(host)) Add(fleet, vm, hostMips, sums);
        if (extraVm >= 0) Add(fleet, extraVm, hostMips, sums);
        var n = Length;
        while (n > 0 && sums[n - 1] == 0) n--;
        return n;
    }

    /// <summary>
    /// Only the newest <paramref name="window"/>.Length samples, plus whether the whole (trimmed) history is at
    /// least that long — all LR needs, at a third of the work. The sums are the same as <see cref="Fill"/>'s.
    /// </summary>
    public static bool FillWindow(IAdaptiveFleet fleet, int host, int extraVm, Span<double> window)
    {
        var hostMips = fleet.HostTotalMips(host);
        // The extra VM is added last either way, so a known window plus the extra gives the same sums.
        if (fleet.TryHostWindow(host, window, out var known))
            return extraVm >= 0 ? AddWindow(fleet, extraVm, hostMips, window) | known : known;
        window.Clear();
        var longEnough = false;
        foreach (var vm in fleet.VmsOn(host)) longEnough |= AddWindow(fleet, vm, hostMips, window);
        if (extraVm >= 0) longEnough |= AddWindow(fleet, extraVm, hostMips, window);
        return longEnough;
    }

    // Adds the VM's newest samples; true when it has a non-zero sample at or beyond the window's last index, so
    // the host's trimmed history reaches that far (its terms are non-negative: a sum is zero only if all are).
    private static bool AddWindow(IAdaptiveFleet fleet, int vm, double hostMips, Span<double> window)
    {
        var scale = fleet.VmMips(vm) / hostMips;
        var h = fleet.VmHistory(vm);
        var n = Math.Min(Math.Min(h.Length, Length), window.Length);
        for (var i = 0; i < n; i++) window[i] += h[i] * scale;
        for (var i = window.Length - 1; i < h.Length && i < Length; i++)
            if (h[i] * scale != 0) return true;
        return false;
    }

    private static void Add(IAdaptiveFleet fleet, int vm, double hostMips, Span<double> sums)
    {
        var scale = fleet.VmMips(vm) / hostMips;
        var h = fleet.VmHistory(vm);
        var n = Math.Min(h.Length, Length);
        for (var i = 0; i < n; i++) sums[i] += h[i] * scale;
    }

    /// <summary>Requested CPU of the host's VMs (and the extra one) over its capacity (what THR, IQR and MAD compare).</summary>
    public static double RequestedUtilization(IAdaptiveFleet fleet, int host, int extraVm = -1)
    {
        var total = 0.0;
        foreach (var vm in fleet.VmsOn(host)) total += fleet.VmRequestedMips(vm);
        if (extraVm >= 0) total += fleet.VmRequestedMips(extraVm);
        return total / fleet.HostTotalMips(host);
    }

    /// <summary>LR's horizon: the longest migration among the host's VMs (and the extra one).</summary>
    public static double MaxMigrationSeconds(IAdaptiveFleet fleet, int host, int extraVm = -1)
    {
        var max = fleet.MaxVmMigrationSeconds(host);
        return extraVm >= 0 ? Math.Max(max, fleet.VmMigrationSeconds(host, extraVm)) : max;
    }
}
