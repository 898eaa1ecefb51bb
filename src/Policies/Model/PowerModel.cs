using System.Collections.Immutable;

namespace KvmCluster.Policies.Model;

/// <summary>
/// Host power draw as a function of CPU utilisation: a SPECpower-style table of watts at 0 %, 10 %, …, 100 %
/// (linear between points), plus what the host draws in standby and how long it takes to boot.
/// </summary>
public sealed record PowerModel
{
    /// <summary>Watts at utilisation 0, 1/(n-1), …, 1. At least two points.</summary>
    public ImmutableArray<double> Watts { get; }
    public double StandbyWatts { get; init; }
    public double BootSeconds { get; init; } = 180;

    public PowerModel(ImmutableArray<double> watts)
    {
        Watts = watts.IsDefault ? [] : watts;
        if (Watts.Length < 2) throw new ArgumentException("a power table needs at least two points (idle and full load)");
        for (var i = 0; i < Watts.Length; i++)
        {
            if (!double.IsFinite(Watts[i]) || Watts[i] < 0) throw new ArgumentException($"power table point {i} is {Watts[i]}; watts must be ≥ 0");
            if (i > 0 && Watts[i] < Watts[i - 1]) throw new ArgumentException($"power table must not decrease: point {i} ({Watts[i]} W) < point {i - 1} ({Watts[i - 1]} W)");
        }
        // The few doubles u in (0, 1) for which CloudSim's "u % step == 0" holds: exactly k × step for the k
        // where that product is a double. Listing them once avoids a floating-point remainder per call.
        var steps = Watts.Length - 1;
        var step = 1.0 / steps;
        var grid = new List<double>();
        for (var k = 1; k <= steps; k++)
        {
            var c = k * step;
            if (c > 0 && c < 1 && c % step == 0) grid.Add(c);
        }
        _onGrid = [.. grid];
        _watts = [.. Watts];
        _delta = new double[steps];
        _start = new double[steps];
        for (var i = 0; i < steps; i++)
        {
            _delta[i] = (_watts[i + 1] - _watts[i]) / steps;
            _start[i] = (double)i / steps;
        }
    }

    private readonly double[] _delta, _start;

    private readonly double[] _onGrid;
    private readonly double[] _watts;

    public static PowerModel Linear(double idleWatts, double maxWatts) => new([idleWatts, maxWatts]);

    public double IdleWatts => Watts[0];
    public double MaxWatts => Watts[^1];

    /// <summary>
    /// Watts at utilisation <paramref name="u"/> (clamped to 0..1), interpolated exactly as CloudSim's
    /// PowerModelSpecPower does — the same floating-point operations, so simulated energy matches to the bit.
    /// </summary>
    public double At(double u)
    {
        var w = _watts;
        if (!(u > 0)) return w[0];
        if (u >= 1) return w[^1];
        var steps = w.Length - 1;
        var x = u * steps;
        var i1 = (int)x; // Math.Floor for 0 < x < steps
        var fraction = x - i1;
        if (fraction < 1e-9 || fraction > 1 - 1e-9) // only then can u be one of the few on-grid doubles
            foreach (var g in _onGrid) if (u == g) return w[i1]; // CloudSim: u % 0.1 == 0, then data[(int)(u × 10)]
        if (fraction == 0) return w[i1]; // Math.Ceiling(x) == i1: no slope to add
        // CloudSim's expression, with its two divisions done once per table: (w[i2] − w[i1]) / steps and i1 / steps.
        return w[i1] + _delta[i1] * (u - _start[i1]) * (steps * steps);
    }

    /// <summary>HP ProLiant ML110 G4 (Xeon 3040), SPECpower, as CloudSim uses it.</summary>
    public static PowerModel HpMl110G4 { get; } = new([86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117]);
    /// <summary>HP ProLiant ML110 G5 (Xeon 3075), SPECpower, as CloudSim uses it.</summary>
    public static PowerModel HpMl110G5 { get; } = new([93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135]);
}
