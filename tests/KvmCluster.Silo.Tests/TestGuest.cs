using System.Diagnostics;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// Real QEMU for the driver tests: the test guest (tests/guest, a multiboot kernel) built with gcc once per run,
/// and QEMU itself. Neither missing is a skip: the tests fail and say how to get them (./test.sh installs both).
/// </summary>
public static class TestGuest
{
    private static readonly Lazy<string> Built = new(Build);

    /// <summary>The guest kernel (built on first use).</summary>
    public static string Kernel => Built.Value;

    public static string Qemu
    {
        get
        {
            var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "qemu-system-x86_64")).FirstOrDefault(File.Exists);
            return path ?? throw new InvalidOperationException("qemu-system-x86_64 is not installed: ./test.sh installs it (apt-get install qemu-system-x86)");
        }
    }

    private static string Build()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "KvmCluster.sln"))) root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("repository root not found");
        var output = Path.Combine(Path.GetTempPath(), $"kvmcluster-guest-{Environment.ProcessId}.elf");
        var build = Process.Start(new ProcessStartInfo(Path.Combine(root, "tests", "guest", "build.sh")) { ArgumentList = { output }, RedirectStandardError = true, RedirectStandardOutput = true })!;
        var errors = build.StandardError.ReadToEnd() + build.StandardOutput.ReadToEnd();
        build.WaitForExit();
        if (build.ExitCode != 0) throw new InvalidOperationException($"building the test guest failed (needs gcc; ./test.sh installs it): {errors}");
        return output;
    }

    /// <summary>The newest heartbeat number in a guest's serial log, or 0.</summary>
    public static int LastHeartbeat(string serialLog)
    {
        if (!File.Exists(serialLog)) return 0;
        using var stream = new FileStream(serialLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var text = new StreamReader(stream).ReadToEnd();
        var last = text.LastIndexOf("heartbeat ", StringComparison.Ordinal);
        if (last < 0) return 0;
        var digits = new string(text[(last + 10)..].TakeWhile(char.IsAsciiDigit).ToArray());
        return digits.Length > 0 ? int.Parse(digits, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>Waits for a heartbeat newer than <paramref name="after"/> in a guest's serial log: the guest runs.</summary>
    public static async Task<int> HeartbeatAfter(string serial, int after, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            var beat = LastHeartbeat(serial);
            if (beat > after) return beat;
            await Task.Delay(100);
        }
        throw new TimeoutException($"no heartbeat after {after} in {serial} within {within.TotalSeconds} s: {(File.Exists(serial) ? File.ReadAllText(serial) : "(no log)")}");
    }
}
