using KvmCluster.Sim.Cli;
using KvmCluster.Sim.Traces;

namespace KvmCluster.Sim.Tests;

/// <summary>The trace readers: what they take from each format, and how they refuse bad input.</summary>
public class TraceTests
{
    private static string Sample(params string[] parts) => Path.Combine([Kvmsim.RepoRoot(), "samples", "traces", .. parts]);

    private static string Dir(string name, params (string File, string Text)[] files)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"kvmsim-trace-{Environment.ProcessId}-{name}");
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        Directory.CreateDirectory(dir);
        foreach (var (f, t) in files) File.WriteAllText(Path.Combine(dir, f), t);
        return dir;
    }

    [Fact]
    public void PlanetLab_files_are_taken_in_ordinal_name_order_with_CloudSims_interpolation()
    {
        var dir = Dir("order", ("b", "10\n20\n"), ("B", "30\n"), ("a", "0\n100\n"));
        var t = PlanetLabTrace.Read(dir);
        Assert.Equal(["B", "a", "b"], t.Workloads.Select(w => w.Name));
        var a = t.Workloads[1];
        Assert.Equal(0.5, a.UtilizationAt(150), 12);   // halfway between 0 % and 100 %
        Assert.Equal(1.0, a.UtilizationAt(450), 12);   // past the last sample: the last value
        Assert.Equal(600, t.Duration);
    }

    [Theory]
    [InlineData("12\nabc\n", 2, "expected an integer CPU percentage, found 'abc'")]
    [InlineData("12\n101\n", 2, "CPU percentage 101 is outside 0..100")]
    [InlineData("-1\n", 1, "CPU percentage -1 is outside 0..100")]
    public void A_bad_PlanetLab_line_is_named_by_file_and_line(string text, int line, string message)
    {
        var dir = Dir("bad" + line + text.Length, ("vm1", "5\n"), ("vm2", text));
        var e = Assert.Throws<TraceException>(() => PlanetLabTrace.Read(dir));
        Assert.Equal($"{Path.Combine(dir, "vm2")}:{line}: {message}", e.Message);
    }

    [Fact]
    public void Missing_or_empty_trace_directories_are_named()
    {
        Assert.Contains("does not exist", Assert.Throws<TraceException>(() => PlanetLabTrace.Read("/nonexistent/day")).Message);
        var empty = Dir("empty");
        Assert.Equal($"{empty}: the PlanetLab trace directory has no trace files", Assert.Throws<TraceException>(() => PlanetLabTrace.Read(empty)).Message);
        var blank = Dir("blank", ("vm", "\n\n"));
        Assert.Contains("the trace file is empty", Assert.Throws<TraceException>(() => PlanetLabTrace.Read(blank)).Message);
    }

    [Fact]
    public void Bitbrains_files_give_each_vm_its_size_arrival_and_departure()
    {
        var t = BitbrainsTrace.Read(Sample("bitbrains-sample"));
        Assert.Equal(4, t.Workloads.Count);
        var three = t.Workloads.Single(w => w.Name == "3");
        Assert.Equal(4, three.Cores);
        Assert.Equal(11704, three.CapacityMhz);
        Assert.Equal(16384, three.MemoryMiB);
        Assert.Equal(12 * 300, three.Arrival);                 // starts an hour after the first file
        var four = t.Workloads.Single(w => w.Name == "4");
        Assert.Equal(48 * 300, four.Departure);                // stops after 4 hours
        Assert.Equal(72 * 300, t.Duration);
        Assert.InRange(t.Workloads[0].Sample(0), 0.19, 0.21);  // CPU usage [%] 20.21
    }

    [Fact]
    public void Bitbrains_accepts_millisecond_timestamps_and_rejects_bad_rows_with_their_line()
    {
        const string header = "Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB]\n";
        var ms = Dir("bbms", ("1.csv", header + "1376314846000;\t1;\t2000;\t200;\t10;\t1048576;\t1\n1376315146000;\t1;\t2000;\t400;\t20;\t1048576;\t1\n"));
        var w = BitbrainsTrace.Read(ms).Workloads[0];
        Assert.Equal(2, w.Samples);
        Assert.Equal(0.15, w.UtilizationAt(150), 12);

        var bad = Dir("bbbad", ("1.csv", header + "1376314846;\t1;\t2000;\t200;\t10;\t1048576;\t1\n1376315146;\t1;\t2000;\t200;\t180;\t1048576;\t1\n"));
        var e = Assert.Throws<TraceException>(() => BitbrainsTrace.Read(bad));
        Assert.Equal($"{Path.Combine(bad, "1.csv")}:3: CPU usage [%]: 180 is outside 0..100", e.Message);

        var noHeader = Dir("bbhdr", ("1.csv", "a;b;c\n1;2;3\n"));
        Assert.Contains(":1: the header has no 'Timestamp [ms]' column", Assert.Throws<TraceException>(() => BitbrainsTrace.Read(noHeader)).Message);
    }

    [Fact]
    public void The_generic_csv_carries_arrivals_departures_sizes_and_types()
    {
        var t = CsvTrace.Read(Sample("sample.csv"));
        Assert.Equal(["batch-02", "web-01", "db-03"], t.Workloads.Select(w => w.Name));
        var batch = t.Workloads[0];
        Assert.Equal(1500, batch.Arrival);
        Assert.Equal(1800, batch.SampleStart);
        Assert.Equal("small", batch.Type);
        var db = t.Workloads[2];
        Assert.Equal(7200, db.Departure);
        Assert.Equal(4, db.Cores);
        Assert.Equal(8192, db.MemoryMiB);
        Assert.Equal(300, t.Interval);
    }

    [Theory]
    [InlineData("vm,time,cpu\nweb,0,10\nweb,300,x\n", 3, "cpu: expected a number, found 'x'")]
    [InlineData("vm,time,cpu\nweb,0,10\nweb,450,20\nweb,300,20\n", 4, "time: 300 is before this VM's previous row")]
    [InlineData("vm,time,cpu\nweb,0,10\nweb,300,20\nweb,450,20\n", 4, "time: 450 is off this trace's 300-second sample grid")]
    [InlineData("vm,time,cpu,colour\nweb,0,10,red\n", 1, "header: unknown column 'colour' (known: vm, time, event, cpu, cores, mhz, memory_mib, type)")]
    [InlineData("vm,time,cpu\n-bad,0,10\n", 2, "vm: '-bad' is not a valid name ([A-Za-z0-9][A-Za-z0-9._-]{0,63})")]
    [InlineData("vm,time,cpu,event\nweb,0,10,\nweb,300,,leave\n", 3, "event: 'leave' is not one of: sample, arrive, depart")]
    [InlineData("vm,time,cpu\nweb,0,120\n", 2, "cpu: 120 is outside 0..100")]
    public void A_bad_csv_row_is_named_by_file_line_and_field(string text, int line, string message)
    {
        var file = Kvmsim.Temp($"bad{text.GetHashCode():x}.csv", text);
        var e = Assert.Throws<TraceException>(() => CsvTrace.Read(file));
        Assert.Equal($"{file}:{line}: {message}", e.Message);
    }

    [Fact]
    public void The_synthetic_trace_is_seeded_diurnal_and_small()
    {
        var a = SyntheticTrace.Create(200, 2, 42);
        var b = SyntheticTrace.Create(200, 2, 42);
        var c = SyntheticTrace.Create(200, 2, 43);
        Assert.Equal(576, a.Workloads[0].Samples);
        Assert.Equal(Enumerable.Range(0, 576).Select(a.Workloads[7].Sample), Enumerable.Range(0, 576).Select(b.Workloads[7].Sample));
        Assert.NotEqual(Enumerable.Range(0, 576).Select(a.Workloads[7].Sample), Enumerable.Range(0, 576).Select(c.Workloads[7].Sample));
        Assert.All(a.Workloads, w => Assert.InRange(w.MemoryMiB!.Value, 128, 512));
        // The fleet is busier in its afternoon than at night: compare the mean over VMs at 14:00 and 02:00.
        double Mean(int sample) => a.Workloads.Average(w => w.Sample(sample));
        Assert.True(Mean(14 * 12) > Mean(2 * 12) * 1.2, $"afternoon {Mean(14 * 12):P1} vs night {Mean(2 * 12):P1}");
        Assert.All(Enumerable.Range(0, 576), i => Assert.InRange(a.Workloads[3].Sample(i), 0.01, 1));
    }

    [Theory]
    [InlineData("nonsense")]
    [InlineData("planetlab:")]
    [InlineData("foo:bar")]
    [InlineData("synthetic:vms=0")]
    [InlineData("synthetic:vms=10,colour=red")]
    [InlineData("synthetic:vms=10,vms=20")]
    [InlineData("synthetic:days=400")]
    public void A_bad_trace_argument_is_a_usage_error(string spec) =>
        Assert.Throws<UsageException>(() => TraceSource.Load(spec));
}
