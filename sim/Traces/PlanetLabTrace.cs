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
        var buffer = new byte[16 * 1024];
        var samples = new double[512];
        foreach (var file in files) result.Add(ReadFile(file, ref buffer, ref samples));
        return new Trace($"planetlab:{directory}", result, Interval);
    }

    private static SampledWorkload ReadFile(string file, ref byte[] buffer, ref double[] samples)
    {
        // One small file per VM and a thousand of them a day: open, read, close (system calls are dear here),
        // then parse the digits directly.
        int length;
        // Shared for writing too: .NET then takes no advisory lock (two fewer system calls per file).
        using (var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            length = 0;
            while (true)
            {
                var want = buffer.Length - length;
                var n = RandomAccess.Read(handle, buffer.AsSpan(length), length);
                length += n;
                if (n < want) break; // a short read of a regular file is its end: no extra call to find out
                Array.Resize(ref buffer, buffer.Length * 2);
            }
        }
        var bytes = buffer.AsSpan(0, length);
        var count = 0;
        var lineNo = 0;
        var i = 0;
        while (i < bytes.Length)
        {
            lineNo++;
            var start = i;
            while (i < bytes.Length && bytes[i] != (byte)'\n') i++;
            var line = bytes.Slice(start, i - start);
            i++;
            line = line.Trim(" \t\r"u8);
            if (line.Length == 0) continue;
            var percent = 0;
            var ok = line.Length <= 9;
            foreach (var c in line)
            {
                if (c is < (byte)'0' or > (byte)'9') { ok = false; break; }
                percent = percent * 10 + (c - '0');
            }
            if (!ok)
            {
                var text = System.Text.Encoding.UTF8.GetString(line);
                if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out percent))
                    throw new TraceException(file, lineNo, $"expected an integer CPU percentage, found '{TraceFiles.Shorten(text)}'");
            }
            if (percent is < 0 or > 100)
                throw new TraceException(file, lineNo, $"CPU percentage {percent} is outside 0..100");
            if (count == samples.Length) Array.Resize(ref samples, samples.Length * 2);
            samples[count++] = percent / 100.0;
        }
        if (count == 0) throw new TraceException(file, 0, "the trace file is empty");
        return new SampledWorkload(Path.GetFileName(file), samples.AsSpan(0, count), Interval);
    }
}
