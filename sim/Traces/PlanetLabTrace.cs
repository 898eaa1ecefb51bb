using System.Globalization;

namespace KvmCluster.Sim.Traces;

/// <summary>
/// PlanetLab CoMon traces as CloudSim ships them: a directory with one file per VM, one integer CPU % per
/// line every 300 s. Files are taken in ordinal (byte-wise) name order — CloudSim uses the file system's
/// order, which differs between machines and changes the VM types (cloudsim-planetlab.md, P1).
/// </summary>
public static class PlanetLabTrace
{
    public const double Interval = 300;

    public static Trace Read(string directory)
    {
        var files = TraceFiles.List(directory, "PlanetLab", _ => true);
        var result = new List<VmWorkload>(files.Count);
        foreach (var file in files) result.Add(ReadFile(file));
        return new Trace($"planetlab:{directory}", result, Interval);
    }

    private static SampledWorkload ReadFile(string file)
    {
        var samples = new List<double>(288);
        var lineNo = 0;
        foreach (var raw in File.ReadLines(file))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0) continue;
            if (!int.TryParse(line, NumberStyles.Integer, CultureInfo.InvariantCulture, out var percent))
                throw new TraceException(file, lineNo, $"expected an integer CPU percentage, found '{TraceFiles.Shorten(line)}'");
            if (percent is < 0 or > 100)
                throw new TraceException(file, lineNo, $"CPU percentage {percent} is outside 0..100");
            samples.Add(percent / 100.0);
        }
        if (samples.Count == 0) throw new TraceException(file, 0, "the trace file is empty");
        return new SampledWorkload(Path.GetFileName(file), [.. samples], Interval);
    }
}
