using System.Globalization;

namespace KvmCluster.Sim.Traces;

/// <summary>
/// Bitbrains GWA-T-12 (fastStorage / Rnd): a directory of per-VM CSV files, fields separated by ';' (often
/// followed by a tab), with the header
/// <c>Timestamp [ms];CPU cores;CPU capacity provisioned [MHZ];CPU usage [MHZ];CPU usage [%];Memory capacity
/// provisioned [KB];Memory usage [KB];…</c>. The published files carry Unix seconds despite the "[ms]";
/// both are accepted (values above 10^11 are taken as milliseconds). Each VM keeps its own size (cores, MHz,
/// memory); it arrives at its first sample and leaves after its last. Gaps repeat the previous sample.
/// </summary>
public static class BitbrainsTrace
{
    private static readonly string[] Required =
        ["Timestamp [ms]", "CPU cores", "CPU capacity provisioned [MHZ]", "CPU usage [%]", "Memory capacity provisioned [KB]"];

    private sealed record Row(double Time, double Cpu);

    public static Trace Read(string directory, double interval = 300)
    {
        var files = TraceFiles.List(directory, "Bitbrains", f => f.EndsWith(".csv", StringComparison.OrdinalIgnoreCase));
        var parsed = files.Select(ReadFile).ToList();
        var start = parsed.Min(p => p.Rows[0].Time);
        // Rows are placed on a grid and the gaps filled: bounded before anything is allocated (see CsvTrace).
        var grid = parsed.Sum(p => (p.Rows[^1].Time - p.Rows[0].Time) / interval + 1);
        if (grid > CsvTrace.MaxGridSamples)
            throw new TraceException(directory, 0, $"the trace spans {grid:N0} samples on its {interval}-second grid (VMs × span ÷ interval); the limit is {CsvTrace.MaxGridSamples:N0}");
        var workloads = new List<VmWorkload>(parsed.Count);
        foreach (var (file, rows, cores, mhz, memKb) in parsed)
        {
            var first = rows[0].Time;
            var count = (int)Math.Round((rows[^1].Time - first) / interval) + 1;
            var samples = new double[count];
            var filled = new bool[count];
            foreach (var r in rows) { var i = (int)Math.Round((r.Time - first) / interval); samples[i] = r.Cpu; filled[i] = true; }
            for (var i = 1; i < count; i++) if (!filled[i]) samples[i] = samples[i - 1];
            workloads.Add(new SampledWorkload(Path.GetFileNameWithoutExtension(file), samples, interval)
            {
                Arrival = first - start,
                Departure = rows[^1].Time - start + interval,
                Cores = cores,
                CapacityMhz = mhz,
                MemoryMiB = (int)Math.Ceiling(memKb / 1024),
            });
        }
        return new Trace($"bitbrains:{directory}", workloads, interval);
    }

    private static (string File, List<Row> Rows, int Cores, double Mhz, double MemKb) ReadFile(string file)
    {
        using var reader = new StreamReader(file);
        var header = reader.ReadLine();
        if (header is null) throw new TraceException(file, 0, "the trace file is empty");
        var names = Split(header).Select(h => h.Trim()).ToList();
        var col = new Dictionary<string, int>();
        foreach (var name in Required)
        {
            var i = names.FindIndex(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase));
            if (i < 0) throw new TraceException(file, 1, $"the header has no '{name}' column (GWA-T-12 format expected)");
            col[name] = i;
        }
        var rows = new List<Row>(8640);
        int cores = 0;
        double mhz = 0, memKb = 0;
        var lineNo = 1;
        while (reader.ReadLine() is { } line)
        {
            lineNo++;
            if (line.Trim().Length == 0) continue;
            var f = Split(line);
            if (f.Length < names.Count)
                throw new TraceException(file, lineNo, $"expected {names.Count} fields separated by ';', found {f.Length}");
            double Num(string name, double min, double max)
            {
                var text = f[col[name]].Trim();
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
                    throw new TraceException(file, lineNo, $"{name}: expected a number, found '{TraceFiles.Shorten(text)}'");
                if (v < min || v > max) throw new TraceException(file, lineNo, $"{name}: {v.ToString(CultureInfo.InvariantCulture)} is outside {min.ToString(CultureInfo.InvariantCulture)}..{max.ToString(CultureInfo.InvariantCulture)}");
                return v;
            }
            var ts = Num("Timestamp [ms]", 0, double.MaxValue);
            var time = ts > 1e11 ? ts / 1000 : ts;
            var c = (int)Num("CPU cores", 1, 1024);
            var m = Num("CPU capacity provisioned [MHZ]", 1, 1e7);
            var cpu = Num("CPU usage [%]", 0, 100);
            var mem = Num("Memory capacity provisioned [KB]", 1, 1e12);
            if (rows.Count > 0 && time <= rows[^1].Time)
                throw new TraceException(file, lineNo, $"Timestamp [ms]: {ts.ToString(CultureInfo.InvariantCulture)} is not after the previous row's");
            if (rows.Count == 0) (cores, mhz, memKb) = (c, m, mem);
            else (cores, mhz, memKb) = (Math.Max(cores, c), Math.Max(mhz, m), Math.Max(memKb, mem));
            rows.Add(new Row(time, cpu / 100));
        }
        if (rows.Count == 0) throw new TraceException(file, 0, "the trace file has a header but no samples");
        return (file, rows, cores, mhz, memKb);
    }

    private static string[] Split(string line) => line.Split(';');
}
