using KvmCluster.Sim.Traces;

namespace KvmCluster.Sim.Tests;

/// <summary>
/// Hostile traces: malformed, oversized and malicious CSV, PlanetLab and Bitbrains input. Each is refused with a
/// <see cref="TraceException"/> naming the file (and the line where there is one) — never another exception, a hang
/// or an allocation the file's size does not justify.
/// </summary>
public sealed class HostileTraceTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("kvmsim-hostile-");

    public void Dispose() => _dir.Delete(recursive: true);

    public static TheoryData<string, string, string> Csv() => new()
    {
        { "an empty file", "", "empty" },
        { "only comments", "# a\n# b\n", "empty" },
        { "a header and nothing else", "vm,time,cpu\n", "no rows" },
        { "no vm column", "time,cpu\n0,1\n", "the 'vm' column is required" },
        { "a column twice", "vm,time,cpu,cpu\nw,0,1,1\n", "appears twice" },
        { "10,000 columns", "vm,time,cpu," + string.Join(",", Enumerable.Range(0, 10_000).Select(i => $"c{i}")) + "\n", "unknown column" },
        { "a row with too many fields", "vm,time,cpu\nw,0,1,9\n", "expected 3 comma-separated fields" },
        { "NaN", "vm,time,cpu\nw,0,NaN\n", "expected a number" },
        { "Infinity", "vm,time,cpu\nw,0,Infinity\n", "expected a number" },
        { "1e309", "vm,time,cpu\nw,0,1e309\n", "expected a number" },
        { "a negative time", "vm,time,cpu\nw,-5,1\n", "outside" },
        { "a time beyond 1e10", "vm,time,cpu\nw,1e11,1\n", "outside" },
        { "CPU above 100", "vm,time,cpu\nw,0,100.5\n", "outside" },
        { "a hex number", "vm,time,cpu\nw,0x10,1\n", "expected a number" },
        { "a name with a path", "vm,time,cpu\n../../etc/passwd,0,1\n", "is not a valid name" },
        { "a name with a shell string", "vm,time,cpu\n$(reboot),0,1\n", "is not a valid name" },
        { "a name of 1 MB", "vm,time,cpu\n" + new string('a', 1_000_000) + ",0,1\n", "is not a valid name" },
        { "control characters", "vm,time,cpu\nw\u0001,0,1\n", "is not a valid name" },
        { "binary", "\u0000\u0001\u0002\u00ff\n\u0000,\u0000,\u0000\n", "unknown column" },
        { "an unknown event", "vm,time,cpu,event\nw,0,1,explode\n", "is not one of" },
        { "arriving twice", "vm,time,cpu,event\nw,0,,arrive\nw,0,,arrive\n", "has already arrived" },
        { "rows after departing", "vm,time,cpu,event\nw,0,1,\nw,300,,depart\nw,600,1,\n", "already departed" },
        { "two samples at one instant", "vm,time,cpu\nw,0,1\nw,0,2\n", "same instant" },
        { "samples a microsecond apart", "vm,time,cpu\nw,0,1\nw,0.000001,2\n", "the shortest interval is 1 s" },
        { "a 3-line file spanning 300 years at 1 s", "vm,time,cpu\nw,0,1\nw,1,1\nw,9999999999,1\n", "the limit is 100,000,000" },
        { "many VMs spanning a year at 1 s", "vm,time,cpu\n" + string.Concat(Enumerable.Range(0, 10).Select(i => $"v{i},0,1\nv{i},1,1\nv{i},31536000,1\n")), "the limit is 100,000,000" },
        { "off the grid", "vm,time,cpu\nw,0,1\nw,300,1\nw,450,1\n", "off this trace's" },
        { "a VM with no samples", "vm,time,cpu,event\nw,0,,arrive\nx,0,1,\n", "has no samples" },
        { "cores of 2^40", "vm,time,cpu,cores\nw,0,1,1099511627776\n", "outside" },
        { "memory of -1", "vm,time,cpu,memory_mib\nw,0,1,-1\n", "outside" },
    };

    [Theory, MemberData(nameof(Csv))]
    public void A_hostile_csv_trace_is_refused_naming_the_file(string what, string text, string message)
    {
        var file = Path.Combine(_dir.FullName, "t.csv");
        File.WriteAllText(file, text);
        var e = Assert.Throws<TraceException>(() => CsvTrace.Read(file));
        Assert.Equal(file, e.File);
        Assert.True(e.Message.Contains(message, StringComparison.Ordinal), $"{what}: {e.Message}");
        Assert.True(e.Message.Length < 2000, $"{what}: a {e.Message.Length}-character message");
    }

    public static TheoryData<string, string, int> PlanetLab() => new()
    {
        { "a word", "12\nabc\n", 2 },
        { "a fraction", "12\n1.5\n", 2 },
        { "above 100", "101\n", 1 },
        { "negative", "-1\n", 1 },
        { "huge", "99999999999999999999\n", 1 },
        { "binary", "\u0000\u0001\n", 1 },
        { "a 1 MB line", new string('9', 1_000_000) + "\n", 1 },
    };

    [Theory, MemberData(nameof(PlanetLab))]
    public void A_hostile_planetlab_file_is_refused_naming_file_and_line(string what, string text, int line)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir.FullName, "pl-" + line + "-" + text.Length));
        File.WriteAllText(Path.Combine(dir.FullName, "vm1"), "5\n");
        File.WriteAllText(Path.Combine(dir.FullName, "vm2"), text);
        var e = Assert.Throws<TraceException>(() => PlanetLabTrace.Read(dir.FullName));
        Assert.True(e.File == Path.Combine(dir.FullName, "vm2") && e.Line == line, $"{what}: {e.Message}");
        Assert.True(e.Message.Length < 2000, $"{what}: a {e.Message.Length}-character message");
    }

    [Fact]
    public void A_bitbrains_file_whose_timestamps_span_millennia_is_refused_before_it_is_expanded()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir.FullName, "bb"));
        const string header = "Timestamp [ms];CPU cores;CPU capacity provisioned [MHZ];CPU usage [MHZ];CPU usage [%];Memory capacity provisioned [KB];Memory usage [KB]\n";
        File.WriteAllText(Path.Combine(dir.FullName, "1.csv"), header + "0;1;2000;10;5;1048576;1000\n99999999999999;1;2000;10;5;1048576;1000\n");
        var e = Assert.Throws<TraceException>(() => BitbrainsTrace.Read(dir.FullName));
        Assert.Contains("the limit is 100,000,000", e.Message);
    }

    [Theory]
    [InlineData("not-there")]
    [InlineData("")]
    public void A_missing_trace_directory_is_refused(string name)
    {
        var path = Path.Combine(_dir.FullName, name, "nope");
        Assert.IsType<TraceException>(Record.Exception(() => PlanetLabTrace.Read(path)));
        Assert.IsType<TraceException>(Record.Exception(() => BitbrainsTrace.Read(path)));
        Assert.IsType<TraceException>(Record.Exception(() => CsvTrace.Read(path)));
    }
}
