using System.Diagnostics;
using System.Text.RegularExpressions;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// A real Linux guest for the QEMU tests: a Debian cloud kernel downloaded from the Debian archive and a busybox
/// initramfs with the kernel's own virtio, ACPI button and pvpanic modules, both made once per run by
/// tests/linux-guest/build.sh. Its init prints readiness, a counter, the checksum of a tmpfs file and its network
/// interfaces every second on the serial console. Neither download nor build failing is a skip: the tests fail and say why.
/// </summary>
public static partial class LinuxTestGuest
{
    private static readonly Lazy<(string Kernel, string Initrd)> Built = new(Build);

    public static string Kernel => Built.Value.Kernel;
    public static string Initrd => Built.Value.Initrd;

    private static (string, string) Build()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "KvmCluster.sln"))) root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("repository root not found");
        var output = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"kvmcluster-linux-guest-{Environment.ProcessId}")).FullName;
        var build = Process.Start(new ProcessStartInfo(Path.Combine(root, "tests", "linux-guest", "build.sh")) { ArgumentList = { output }, RedirectStandardError = true, RedirectStandardOutput = true })!;
        var errors = build.StandardError.ReadToEnd() + build.StandardOutput.ReadToEnd();
        build.WaitForExit();
        if (build.ExitCode != 0)
            throw new InvalidOperationException($"building the Linux test guest failed (needs the Debian archive, busybox-static and cpio; ./test.sh installs them): {errors}");
        return (Path.Combine(output, "vmlinuz"), Path.Combine(output, "initrd.img"));
    }

    /// <summary>One heartbeat line of the serial log.</summary>
    public sealed record Beat(int Count, string Checksum, IReadOnlyList<string> Interfaces);

    [GeneratedRegex(@"KVMTEST-BEAT (\d+) ([0-9a-f]{16}) ([A-Za-z0-9_.,-]*)")]
    private static partial Regex BeatLine();

    /// <summary>The newest heartbeat in a serial log, or null.</summary>
    public static Beat? LastBeat(string serialLog)
    {
        if (!File.Exists(serialLog)) return null;
        string text;
        using (var stream = new FileStream(serialLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite)) text = new StreamReader(stream).ReadToEnd();
        var last = BeatLine().Matches(text).LastOrDefault();
        return last is null ? null : new Beat(int.Parse(last.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), last.Groups[2].Value,
            last.Groups[3].Value.Split(',', StringSplitOptions.RemoveEmptyEntries));
    }

    [GeneratedRegex(@"KVMTEST-PING (\d+) (ok|fail)")]
    private static partial Regex PingLine();

    /// <summary>Every ping result in a serial log, in order: (beat, answered).</summary>
    public static IReadOnlyList<(int Beat, bool Ok)> Pings(string serialLog) =>
        [.. PingLine().Matches(Read(serialLog)).Select(m => (int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), m.Groups[2].Value == "ok"))];

    [GeneratedRegex(@"KVMTEST-MAC (\S+) ([0-9a-f:]{17})")]
    private static partial Regex MacLine();

    /// <summary>The MACs the guest saw at its last boot, by interface.</summary>
    public static IReadOnlyDictionary<string, string> Macs(string serialLog)
    {
        var macs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Match m in MacLine().Matches(Read(serialLog))) macs[m.Groups[1].Value] = m.Groups[2].Value;
        return macs;
    }

    private static string Read(string serialLog)
    {
        if (!File.Exists(serialLog)) return "";
        using var stream = new FileStream(serialLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }

    /// <summary>Whether the serial log holds a line (KVMTEST-READY, KVMTEST-POWEROFF, Kernel panic …).</summary>
    public static bool Says(string serialLog, string line)
    {
        if (!File.Exists(serialLog)) return false;
        using var stream = new FileStream(serialLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd().Contains(line, StringComparison.Ordinal);
    }
}
