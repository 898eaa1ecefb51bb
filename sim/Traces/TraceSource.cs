using System.Globalization;
using KvmCluster.Sim.Cli;

namespace KvmCluster.Sim.Traces;

/// <summary>
/// The <c>--trace</c> argument: <c>planetlab:DIR</c>, <c>bitbrains:DIR</c>, <c>csv:FILE</c> or
/// <c>synthetic:vms=N,days=D,seed=S</c>. A malformed argument is a usage error (exit 2); a malformed trace is
/// a <see cref="TraceException"/> naming the file and line.
/// </summary>
public static class TraceSource
{
    public const string Help = "planetlab:DIR | bitbrains:DIR | csv:FILE | synthetic:vms=N,days=D,seed=S";

    public static Trace Load(string spec)
    {
        var colon = spec.IndexOf(':');
        if (colon <= 0) throw new UsageException($"--trace '{spec}': expected {Help}");
        var kind = spec[..colon];
        var rest = spec[(colon + 1)..];
        if (rest.Length == 0) throw new UsageException($"--trace '{spec}': nothing after '{kind}:'");
        return kind switch
        {
            "planetlab" => PlanetLabTrace.Read(rest),
            "bitbrains" => BitbrainsTrace.Read(rest),
            "csv" => CsvTrace.Read(rest),
            "synthetic" => Synthetic(spec, rest),
            _ => throw new UsageException($"--trace '{spec}': unknown kind '{kind}'; expected {Help}"),
        };
    }

    private static Trace Synthetic(string spec, string args)
    {
        var values = Parameters(spec, args, ["vms", "days", "seed"]);
        var vms = values.TryGetValue("vms", out var v) ? Int(spec, "vms", v, 1, 10_000_000) : 1000;
        var days = values.TryGetValue("days", out var d) ? Number(spec, "days", d, 1.0 / 288, 366) : 1;
        var seed = values.TryGetValue("seed", out var s) ? Int(spec, "seed", s, 0, int.MaxValue) : 42;
        return SyntheticTrace.Create(vms, days, seed);
    }

    /// <summary>Parses <c>key=value,key=value</c>, rejecting unknown keys and repeats.</summary>
    public static Dictionary<string, string> Parameters(string spec, string args, IReadOnlyList<string> known)
    {
        var values = new Dictionary<string, string>();
        foreach (var part in args.Split(','))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0) throw new UsageException($"'{spec}': expected key=value, found '{part}'");
            var key = part[..eq].Trim();
            if (!known.Contains(key)) throw new UsageException($"'{spec}': unknown parameter '{key}' (known: {string.Join(", ", known)})");
            if (!values.TryAdd(key, part[(eq + 1)..].Trim())) throw new UsageException($"'{spec}': '{key}' is given twice");
        }
        return values;
    }

    public static int Int(string spec, string key, string text, int min, int max)
    {
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
            throw new UsageException($"'{spec}': {key} must be a whole number, found '{text}'");
        if (v < min || v > max) throw new UsageException($"'{spec}': {key}={v} is outside {min}..{max}");
        return v;
    }

    private static double Number(string spec, string key, string text, double min, double max)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
            throw new UsageException($"'{spec}': {key} must be a number, found '{text}'");
        if (v < min || v > max) throw new UsageException($"'{spec}': {key}={text} is outside {min.ToString("0.####", CultureInfo.InvariantCulture)}..{max}");
        return v;
    }
}
