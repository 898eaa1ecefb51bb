namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>
/// A host's CPU utilisation history as CloudSim derives it: Σ over its VMs of history × VM MIPS / host MIPS,
/// newest first, with trailing zeros trimmed. It moves with the VMs, so it follows tentative moves.
/// </summary>
public static class HostHistory
{
    public const int Length = 30;

    public static double[] Of(IAdaptiveFleet fleet, int host)
    {
        var sums = new double[Length];
        var hostMips = fleet.HostTotalMips(host);
        foreach (var vm in fleet.VmsOn(host))
        {
            var scale = fleet.VmMips(vm) / hostMips;
            var h = fleet.VmHistory(vm);
            if (h is double[] array)
            {
                var n0 = Math.Min(array.Length, Length);
                for (var i = 0; i < n0; i++) sums[i] += array[i] * scale;
            }
            else
                for (var i = 0; i < h.Count && i < Length; i++) sums[i] += h[i] * scale;
        }
        var n = Length;
        while (n > 0 && sums[n - 1] == 0) n--;
        return n == Length ? sums : sums[..n];
    }

    /// <summary>Requested CPU of the host's VMs over its capacity (what THR, IQR and MAD compare).</summary>
    public static double RequestedUtilization(IAdaptiveFleet fleet, int host)
    {
        var total = 0.0;
        foreach (var vm in fleet.VmsOn(host)) total += fleet.VmRequestedMips(vm);
        return total / fleet.HostTotalMips(host);
    }
}
