namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>
/// R² of an ordinary least-squares fit with intercept, computed the way commons-math's
/// OLSMultipleLinearRegression does (Householder QR, the same order of floating-point operations, the
/// incremental second moment for the total sum of squares). MC picks the VM with the largest R², and
/// near-ties are common (a square system fits perfectly up to rounding), so only the same arithmetic makes
/// the same choice CloudSim makes.
/// </summary>
public sealed class OlsRSquared
{
    private double[][] _qrt = [];   // the design matrix transposed: one array per column
    private double[] _rDiag = [];
    private double[] _y = [];
    private double[] _beta = [];

    /// <summary>
    /// Fits <paramref name="y"/> (m samples) on an intercept plus the given predictor columns (each m samples).
    /// Returns null when commons-math would refuse: fewer samples than coefficients, or an exactly singular
    /// design (a zero on R's diagonal).
    /// </summary>
    public double? Fit(ReadOnlySpan<double> y, IReadOnlyList<double[]> predictors)
    {
        var m = y.Length;
        var n = predictors.Count + 1;
        if (n > m || m == 0) return null;
        Prepare(m, n);
        for (var row = 0; row < m; row++) _qrt[0][row] = 1.0;
        for (var col = 1; col < n; col++) Array.Copy(predictors[col - 1], _qrt[col], m);

        Decompose(m, n);
        for (var i = 0; i < n; i++) if (Math.Abs(_rDiag[i]) <= 0) return null;

        y.CopyTo(_y);
        Solve(m, n);

        // Residuals against the original design: intercept column 1, then the predictors.
        var ssr = 0.0;
        for (var row = 0; row < m; row++)
        {
            var fitted = 1.0 * _beta[0];
            for (var col = 1; col < n; col++) fitted += predictors[col - 1][row] * _beta[col];
            var residual = y[row] - fitted;
            ssr += residual * residual;
        }
        return 1 - ssr / SecondMoment(y);
    }

    private void Prepare(int m, int n)
    {
        if (_qrt.Length < n || (_qrt.Length > 0 && _qrt[0].Length != m))
        {
            _qrt = new double[n][];
            for (var i = 0; i < n; i++) _qrt[i] = new double[m];
        }
        if (_rDiag.Length != n) { _rDiag = new double[n]; _beta = new double[n]; }
        if (_y.Length != m) _y = new double[m];
    }

    private void Decompose(int m, int n)
    {
        for (var minor = 0; minor < Math.Min(m, n); minor++)
        {
            var qrtMinor = _qrt[minor];
            var xNormSqr = 0.0;
            for (var row = minor; row < m; row++) xNormSqr += qrtMinor[row] * qrtMinor[row];
            var a = qrtMinor[minor] > 0 ? -Math.Sqrt(xNormSqr) : Math.Sqrt(xNormSqr);
            _rDiag[minor] = a;
            if (a == 0.0) continue;
            qrtMinor[minor] -= a;
            for (var col = minor + 1; col < n; col++)
            {
                var qrtCol = _qrt[col];
                var alpha = 0.0;
                for (var row = minor; row < m; row++) alpha -= qrtCol[row] * qrtMinor[row];
                alpha /= a * qrtMinor[minor];
                for (var row = minor; row < m; row++) qrtCol[row] -= alpha * qrtMinor[row];
            }
        }
    }

    private void Solve(int m, int n)
    {
        for (var minor = 0; minor < Math.Min(m, n); minor++)
        {
            var qrtMinor = _qrt[minor];
            var dot = 0.0;
            for (var row = minor; row < m; row++) dot += _y[row] * qrtMinor[row];
            dot /= _rDiag[minor] * qrtMinor[minor];
            for (var row = minor; row < m; row++) _y[row] += dot * qrtMinor[row];
        }
        for (var row = n - 1; row >= 0; row--)
        {
            _y[row] /= _rDiag[row];
            var yRow = _y[row];
            var qrtRow = _qrt[row];
            _beta[row] = yRow;
            for (var i = 0; i < row; i++) _y[i] -= yRow * qrtRow[i];
        }
    }

    /// <summary>Σ (y − ȳ)², accumulated incrementally as commons-math's SecondMoment does.</summary>
    private static double SecondMoment(ReadOnlySpan<double> y)
    {
        double m1 = 0, m2 = 0;
        for (var k = 0; k < y.Length; k++)
        {
            var count = (double)(k + 1);
            var dev = y[k] - m1;
            var nDev = dev / count;
            m1 += nDev;
            m2 += (count - 1) * dev * nDev;
        }
        return m2;
    }
}
