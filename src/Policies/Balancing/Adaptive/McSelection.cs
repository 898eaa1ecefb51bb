namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>
/// MC: the VM whose utilisation history is best explained (highest R²) by a linear regression on the other
/// VMs' histories — the most correlated one. As in CloudSim, the whole choice falls back (to MMT) when any
/// regression cannot be computed: a single VM, fewer samples than coefficients, or a singular design.
/// </summary>
public sealed class McSelection(IVmSelection fallback) : IVmSelection
{
    private readonly OlsRSquared _ols = new();
    private readonly List<double[]> _others = [];

    public string Name => "MC";

    public int? Select(IAdaptiveFleet fleet, int host)
    {
        var vms = Migratable.On(fleet, host);
        if (vms.Count == 0) return null;
        var n = vms.Count;
        var m = int.MaxValue;
        foreach (var vm in vms) m = Math.Min(m, fleet.VmHistory(vm).Length);
        if (n < 2 || m < n) return fallback.Select(fleet, host);

        var data = new double[n][];
        for (var i = 0; i < n; i++)
        {
            var history = fleet.VmHistory(vms[i]);
            data[i] = new double[m];
            for (var k = 0; k < m; k++) data[i][k] = history[k];
        }
        var best = 0;
        var bestR2 = double.Epsilon; // CloudSim starts at Double.MIN_VALUE: a non-positive R² never wins
        for (var i = 0; i < n; i++)
        {
            _others.Clear();
            for (var j = 0; j < n; j++) if (j != i) _others.Add(data[j]);
            if (_ols.Fit(data[i], _others) is not { } r2) return fallback.Select(fleet, host);
            if (r2 > bestR2) { bestR2 = r2; best = i; }
        }
        return vms[best];
    }
}
