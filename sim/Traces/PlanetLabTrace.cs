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

    public static List<VmWorkload> Read(string directory)
    {
        if (!Directory.Exists(directory)) throw new TraceException(directory, 0, "the PlanetLab trace directory does not exist");
        var files = Directory.GetFiles(directory).Where(f => !Path.GetFileName(f).StartsWith('.'))
            .OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new TraceException(directory, 0, "the PlanetLab trace directory has no files");
        var result = new List<VmWorkload>(files.Count);
        foreach (var file in files) result.Add(ReadFile(file));
        return result;
    }

    private static VmWorkload ReadFile(string file)
    {
        var samples = new List<double>(288);
        var lineNo = 0;
        foreach (var raw in File.ReadLines(file))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0) continue;
            if (!int.TryParse(line, NumberStyles.Integer, CultureInfo.InvariantCulture, out var percent))
                throw new TraceException(file, lineNo, $"expected an integer CPU percentage, found '{Shorten(line)}'");
            if (percent is < 0 or > 100)
                throw new TraceException(file, lineNo, $"CPU percentage {percent} is outside 0..100");
            samples.Add(percent / 100.0);
        }
        if (samples.Count == 0) throw new TraceException(file, 0, "the trace file is empty");
        return new VmWorkload(Path.GetFileName(file), [.. samples], Interval);
    }

    internal static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
