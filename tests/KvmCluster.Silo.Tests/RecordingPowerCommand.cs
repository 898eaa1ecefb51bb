using System.Globalization;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// A power command for `--power command` that records every call with a time stamp and keeps each host's power state
/// in a file (a power-off takes effect a second later, as a host takes time to shut down; a file fail-on or fail-off
/// makes that verb fail as a BMC would). Simulated hosts follow what its status says.
/// </summary>
public sealed class RecordingPowerCommand : IDisposable
{
    public DirectoryInfo Directory { get; } = System.IO.Directory.CreateTempSubdirectory("kvmcluster-power-cmd-");

    public string Script { get; }

    public RecordingPowerCommand()
    {
        Script = Path.Combine(Directory.FullName, "power.sh");
        File.WriteAllText(Script, $$"""
            #!/bin/sh
            # COMMAND on|off|status HOST: a recording power controller.
            dir={{Directory.FullName}}
            now=$(date +%s.%N)
            case "$1" in
              on|off)
                echo "$now $1 $2" >> "$dir/log"
                if [ -e "$dir/fail-$1" ]; then echo "BMC of $2 refused chassis power $1" >&2; exit 1; fi
                if [ "$1" = on ]; then echo on > "$dir/state-$2"; else echo "off-at $(awk "BEGIN{printf \"%.3f\", $now + 1}")" > "$dir/state-$2"; fi ;;
              status)
                s=$(cat "$dir/state-$2" 2>/dev/null || echo on)
                case "$s" in off-at*) if awk "BEGIN{exit !($now >= ${s#off-at })}"; then s=off; else s=on; fi ;; esac
                echo "$now status $2 $s" >> "$dir/log"
                echo "$s" ;;
            esac
            """.Replace("\r", ""));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>Sets a host's power state before the silo starts (e.g. "off").</summary>
    public void Set(string host, string state) => File.WriteAllText(Path.Combine(Directory.FullName, "state-" + host), state + "\n");

    /// <summary>Makes every later "on" or "off" fail.</summary>
    public void Fail(string verb) => File.WriteAllText(Path.Combine(Directory.FullName, "fail-" + verb), "");

    /// <summary>The script's calls so far: (time, verb, host, status answer).</summary>
    public List<(DateTimeOffset At, string Verb, string Host, string? Answer)> Calls()
    {
        var log = Path.Combine(Directory.FullName, "log");
        if (!File.Exists(log)) return [];
        return [.. File.ReadAllLines(log).Select(l => l.Split(' ')).Select(p =>
            (DateTimeOffset.FromUnixTimeMilliseconds((long)(double.Parse(p[0], CultureInfo.InvariantCulture) * 1000)), p[1], p[2], p.Length > 3 ? p[3] : null))];
    }

    public void Dispose()
    {
        try { Directory.Delete(recursive: true); } catch (IOException) { }
    }
}
