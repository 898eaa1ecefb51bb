using MathNet.Numerics.LinearAlgebra;

namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>
/// MC: the VM whose utilisation history is best explained (highest R²) by a linear regression on the other
/// VMs' histories — the most correlated one. Falls back to MMT when there are too few samples for the
/// regression (degrees of freedom ≤ 0).
/// </summary>
public sealed class McSelection(IVmSelection fallback) : IVmSelection
{
    public string Name => "MC";

    public int? Select(IAdaptiveFleet fleet, int host)
    {
        var vms = Migratable.On(fleet, host);
        if (vms.Count == 0) return null;
        var m = vms.Min(vm => fleet.VmHistory(vm).Count);
        var n = vms.Count;
        if (m - n <= 0) return fallback.Select(fleet, host);
        var data = vms.Select(vm => fleet.VmHistory(vm).Take(m).ToArray()).ToArray();
        var best = 0;
        var bestR2 = double.Epsilon; // CloudSim starts at Double.MIN_VALUE: non-positive R² never wins
        for (var i = 0; i < n; i++)
        {
            var r2 = RSquared(data, i, m);
            if (r2 > bestR2) { bestR2 = r2; best = i; }
        }
        return vms[best];
    }

    /// <summary>R² of history i regressed (with intercept) on all the others; NaN when undefined.</summary>
    private static double RSquared(double[][] data, int target, int m)
    {
        var n = data.Length;
        var x = Matrix<double>.Build.Dense(m, n, (row, col) => col == 0 ? 1 : data[col <= target ? col - 1 : col][row]);
        var y = Vector<double>.Build.Dense(data[target]);
        Vector<double> beta;
        try { beta = x.QR().Solve(y); }
        catch (ArgumentException) { return double.NaN; }
        var fitted = x * beta;
        var mean = y.Average();
        double sse = 0, sst = 0;
        for (var k = 0; k < m; k++) { sse += Math.Pow(y[k] - fitted[k], 2); sst += Math.Pow(y[k] - mean, 2); }
        return sst == 0 ? double.NaN : 1 - sse / sst;
    }
}
