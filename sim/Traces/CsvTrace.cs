using System.Globalization;

namespace KvmCluster.Sim.Traces;

/// <summary>
/// kvmsim's generic trace: one CSV file, '#' lines are comments, the first other line is the header.
/// Columns (any order): <c>vm,time,cpu</c> required; <c>event</c>, <c>cores</c>, <c>mhz</c>, <c>memory_mib</c>,
/// <c>type</c> optional.
/// <list type="bullet">
/// <item><c>vm</c>: the VM's name (<c>[A-Za-z0-9][A-Za-z0-9._-]{0,63}</c>).</item>
/// <item><c>time</c>: seconds since the start of the trace; a VM's rows are in time order.</item>
/// <item><c>event</c>: <c>sample</c> (the default when empty), <c>arrive</c> or <c>depart</c>.</item>
/// <item><c>cpu</c>: CPU use in percent (0..100) of the VM's capacity; required on samples.</item>
/// <item><c>cores</c>, <c>mhz</c> (total), <c>memory_mib</c>, <c>type</c>: the VM's size or a datacenter
/// VM type name, read from its first row that has them; without them the datacenter's VM types apply.</item>
/// </list>
/// A VM arrives at its <c>arrive</c> row or first sample and leaves at its <c>depart</c> row (or stays).
/// Samples are at a fixed interval: the gap between the trace's first two samples of one VM; a sample off
/// that grid is an error.
/// </summary>
public static class CsvTrace
{
    /// <summary>Samples a trace may expand to on its grid, 8 bytes each (a month of 10,000 VMs at 300 s is 86 million).</summary>
    public const double MaxGridSamples = 100_000_000;
    /// <summary>The shortest sample interval: one second.</summary>
    public const double MinInterval = 1;

    private sealed class VmRows(string name, int line)
    {
        public string Name = name;
        public int FirstLine = line;
        public double? Arrive, Depart;
        public readonly List<(double Time, double Cpu, int Line)> Samples = [];
        public int? Cores, MemoryMiB;
        public double? Mhz;
        public string? Type;
    }

    public static Trace Read(string file)
    {
        if (Directory.Exists(file)) throw new TraceException(file, 0, "is a directory; a CSV trace is one file");
        if (!File.Exists(file)) throw new TraceException(file, 0, "the CSV trace file does not exist");
        var vms = new Dictionary<string, VmRows>(StringComparer.Ordinal);
        var order = new List<VmRows>();
        Dictionary<string, int>? col = null;
        var lineNo = 0;
        foreach (var raw in File.ReadLines(file))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var f = line.Split(',').Select(s => s.Trim()).ToArray();
            if (col is null) { col = Header(file, lineNo, f); continue; }
            if (f.Length != col.Count) throw new TraceException(file, lineNo, $"expected {col.Count} comma-separated fields, found {f.Length}");
            string Field(string name) => col.TryGetValue(name, out var i) ? f[i] : "";
            double? Num(string name, double min, double max, bool required)
            {
                var text = Field(name);
                if (text.Length == 0)
                    return required ? throw new TraceException(file, lineNo, $"{name}: a value is required") : null;
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
                    throw new TraceException(file, lineNo, $"{name}: expected a number, found '{TraceFiles.Shorten(text)}'");
                if (v < min || v > max) throw new TraceException(file, lineNo, $"{name}: {text} is outside {min.ToString(CultureInfo.InvariantCulture)}..{max.ToString(CultureInfo.InvariantCulture)}");
                return v;
            }

            var name = Field("vm");
            if (!KvmCluster.Policies.Model.GuestName.IsValid(name))
                throw new TraceException(file, lineNo, $"vm: '{TraceFiles.Shorten(name)}' is not a valid name ([A-Za-z0-9][A-Za-z0-9._-]{{0,63}})");
            if (!vms.TryGetValue(name, out var vm)) { vm = new VmRows(name, lineNo); vms[name] = vm; order.Add(vm); }
            var time = Num("time", 0, 1e10, required: true)!.Value;
            var last = Math.Max(vm.Samples.Count > 0 ? vm.Samples[^1].Time : double.NegativeInfinity, vm.Arrive ?? double.NegativeInfinity);
            if (time < last) throw new TraceException(file, lineNo, $"time: {Field("time")} is before this VM's previous row");
            if (vm.Depart is not null) throw new TraceException(file, lineNo, $"vm: {name} already departed at {vm.Depart}");
            vm.Cores ??= (int?)Num("cores", 1, 1024, false);
            vm.Mhz ??= Num("mhz", 1, 1e7, false);
            vm.MemoryMiB ??= (int?)Num("memory_mib", 1, 1e9, false);
            var type = Field("type");
            if (type.Length > 0) vm.Type ??= type;
            switch (Field("event").ToLowerInvariant())
            {
                case "" or "sample":
                    vm.Samples.Add((time, Num("cpu", 0, 100, required: true)!.Value / 100, lineNo));
                    break;
                case "arrive":
                    if (vm.Arrive is not null || vm.Samples.Count > 0) throw new TraceException(file, lineNo, $"event: {name} has already arrived");
                    vm.Arrive = time;
                    break;
                case "depart":
                    vm.Depart = time;
                    break;
                default:
                    throw new TraceException(file, lineNo, $"event: '{TraceFiles.Shorten(Field("event"))}' is not one of: sample, arrive, depart");
            }
        }
        if (col is null) throw new TraceException(file, 0, "the CSV trace is empty (no header)");
        if (order.Count == 0) throw new TraceException(file, 0, "the CSV trace has a header but no rows");

        var interval = Interval(file, order);
        // The rows set a grid that gaps are filled on: two rows of a VM a year apart at a 1-second interval would ask
        // for 31 million samples from a 3-line file. Bounded before anything is allocated.
        double grid = 0;
        foreach (var vm in order)
            if (vm.Samples.Count > 0) grid += (vm.Samples[^1].Time - vm.Samples[0].Time) / interval + 1;
        if (grid > MaxGridSamples)
            throw new TraceException(file, 0, $"the trace spans {grid:N0} samples on its {interval}-second grid (VMs × span ÷ interval); the limit is {MaxGridSamples:N0}");
        var workloads = new List<VmWorkload>(order.Count);
        foreach (var vm in order)
        {
            if (vm.Samples.Count == 0) throw new TraceException(file, vm.FirstLine, $"vm: {vm.Name} has no samples");
            var arrival = vm.Arrive ?? vm.Samples[0].Time;
            var first = vm.Samples[0].Time;
            var count = (int)Math.Round((vm.Samples[^1].Time - first) / interval) + 1;
            var samples = new double[count];
            var filled = new bool[count];
            foreach (var (t, cpu, line) in vm.Samples)
            {
                var k = (t - first) / interval;
                if (Math.Abs(k - Math.Round(k)) > 1e-6)
                    throw new TraceException(file, line, $"time: {t} is off this trace's {interval}-second sample grid");
                samples[(int)Math.Round(k)] = cpu;
                filled[(int)Math.Round(k)] = true;
            }
            for (var i = 1; i < count; i++) if (!filled[i]) samples[i] = samples[i - 1];
            // Before its first sample a VM that has arrived runs at that first sample's level.
            workloads.Add(new SampledWorkload(vm.Name, samples, interval)
            {
                Arrival = arrival,
                SampleStart = first,
                Departure = vm.Depart ?? double.PositiveInfinity,
                Cores = vm.Cores,
                CapacityMhz = vm.Mhz,
                MemoryMiB = vm.MemoryMiB,
                Type = vm.Type,
            });
        }
        return new Trace($"csv:{file}", workloads, interval);
    }

    private static Dictionary<string, int> Header(string file, int line, string[] names)
    {
        string[] known = ["vm", "time", "event", "cpu", "cores", "mhz", "memory_mib", "type"];
        var col = new Dictionary<string, int>();
        for (var i = 0; i < names.Length; i++)
        {
            var n = names[i].ToLowerInvariant();
            if (!known.Contains(n)) throw new TraceException(file, line, $"header: unknown column '{TraceFiles.Shorten(names[i])}' (known: {string.Join(", ", known)})");
            if (!col.TryAdd(n, i)) throw new TraceException(file, line, $"header: column '{n}' appears twice");
        }
        foreach (var r in new[] { "vm", "time", "cpu" })
            if (!col.ContainsKey(r)) throw new TraceException(file, line, $"header: the '{r}' column is required");
        return col;
    }

    private static double Interval(string file, List<VmRows> vms)
    {
        foreach (var vm in vms)
            if (vm.Samples.Count >= 2)
            {
                var gap = vm.Samples[1].Time - vm.Samples[0].Time;
                if (gap <= 0) throw new TraceException(file, vm.Samples[1].Line, "time: two samples of one VM at the same instant");
                if (gap < MinInterval) throw new TraceException(file, vm.Samples[1].Line, $"time: samples {gap} s apart; the shortest interval is {MinInterval} s");
                return gap;
            }
        return 300; // a trace of single samples: any interval will do; use PlanetLab's
    }
}
