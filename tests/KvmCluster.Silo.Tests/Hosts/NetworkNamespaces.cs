using System.Diagnostics;

namespace KvmCluster.Silo.Tests.Hosts;

/// <summary>
/// Separate hosts on one machine: a Linux network namespace per host, each with a veth pair to a bridge that lives in
/// a namespace of its own, addresses 10.77.0.0/24 only inside them. Created by the test, removed when disposed (also
/// after a failure, with every process still running inside). Needs root (CAP_SYS_ADMIN) and iproute2: without them
/// it fails loudly, never skips.
/// </summary>
public sealed class NetworkNamespaces : IDisposable
{
    private static int _sets;
    private readonly string _prefix;
    private readonly List<string> _namespaces = [];
    private int _hosts;

    public string Bridge { get; }

    public NetworkNamespaces()
    {
        // Short names: interface names have at most 15 characters.
        _prefix = $"kvt{Environment.ProcessId % 10000}x{Interlocked.Increment(ref _sets)}";
        Bridge = _prefix + "-br";
        try
        {
            ReapOrphans();
            Add(Bridge);
            Ip(Bridge, "link", "add", "br0", "type", "bridge");
            Ip(Bridge, "link", "set", "br0", "up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>A new host: its namespace, its veth to the bridge, its address 10.77.0.<paramref name="octet"/>.</summary>
    public string AddHost(string name, int octet)
    {
        var ns = $"{_prefix}-{name}";
        var i = ++_hosts;
        var (inside, onBridge) = ($"{_prefix}h{i}", $"{_prefix}b{i}");
        Add(ns);
        Ip(ns, "link", "add", inside, "type", "veth", "peer", "name", onBridge);
        Ip(ns, "link", "set", onBridge, "netns", Bridge);
        Ip(Bridge, "link", "set", onBridge, "master", "br0");
        Ip(Bridge, "link", "set", onBridge, "up");
        Ip(ns, "addr", "add", $"10.77.0.{octet}/24", "dev", inside);
        Ip(ns, "link", "set", inside, "up");
        return ns;
    }

    /// <summary>
    /// A guest network: a Linux bridge named <paramref name="bridge"/> in each host's namespace, all joined to one
    /// hub bridge by veth pairs (the switch between the hypervisors' guest-facing NICs). Hosts left out have no such bridge.
    /// </summary>
    public void AddGuestNetwork(string bridge, IEnumerable<string> hostNamespaces)
    {
        var hub = $"{_prefix}-lan{++_lans}";
        Ip(Bridge, "link", "add", hub, "type", "bridge");
        Ip(Bridge, "link", "set", hub, "up");
        foreach (var ns in hostNamespaces)
        {
            var i = ++_hosts;
            var (inside, outside) = ($"{_prefix}g{i}", $"{_prefix}q{i}");
            Ip(ns, "link", "add", bridge, "type", "bridge");
            Ip(ns, "link", "set", bridge, "up");
            Ip(ns, "link", "add", inside, "type", "veth", "peer", "name", outside);
            Ip(ns, "link", "set", outside, "netns", Bridge);
            Ip(Bridge, "link", "set", outside, "master", hub);
            Ip(Bridge, "link", "set", outside, "up");
            Ip(ns, "link", "set", inside, "master", bridge);
            Ip(ns, "link", "set", inside, "up");
        }
    }

    private int _lans;

    /// <summary>The interfaces of a namespace (ip -o link), one name per line.</summary>
    public static IReadOnlyList<string> Links(string ns) =>
        [.. Run("ip", ["-n", ns, "-o", "link"]).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(':')[1].Trim().Split('@')[0])];

    /// <summary>The argv that runs a program inside a namespace (ip netns exec execs it: the pid is the program's).</summary>
    public static IReadOnlyList<string> Exec(string ns, string file, IEnumerable<string> args) => ["netns", "exec", ns, file, .. args];

    /// <summary>
    /// Namespaces a killed test run left behind, with the silos, QEMUs and Redis still running inside (they would load
    /// this machine's two cores and make this run's timings lie): killed and removed. A namespace belongs to a run
    /// whose test host is still alive when some live testhost's pid ends with the number in its name.
    /// </summary>
    private static void ReapOrphans()
    {
        var live = Process.GetProcesses().Where(p => p.Id == Environment.ProcessId || IsTestHost(p.Id)).Select(p => p.Id % 10000).ToHashSet();
        foreach (var line in Run("ip", ["netns", "list"], check: false).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var ns = line.Split(' ')[0];
            var m = System.Text.RegularExpressions.Regex.Match(ns, @"^kvt(\d+)x\d+-");
            if (!m.Success || live.Contains(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))) continue;
            KillAll(ns);
            Run("ip", ["netns", "del", ns], check: false);
        }
    }

    private static bool IsTestHost(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Contains("testhost", StringComparison.Ordinal); }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>Kills every process left inside a namespace (silos, QEMUs, Redis).</summary>
    public static void KillAll(string ns)
    {
        var pids = Run("ip", ["netns", "pids", ns], check: false);
        foreach (var line in pids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            if (int.TryParse(line, out var pid))
                try { Process.GetProcessById(pid).Kill(); } catch (Exception e) when (e is ArgumentException or InvalidOperationException) { }
    }

    public void Dispose()
    {
        foreach (var ns in Enumerable.Reverse(_namespaces)) KillAll(ns);
        Thread.Sleep(200);
        foreach (var ns in Enumerable.Reverse(_namespaces)) Run("ip", ["netns", "del", ns], check: false);
        _namespaces.Clear();
    }

    private void Add(string ns)
    {
        var (code, output) = RunCode("ip", ["netns", "add", ns]);
        if (code != 0)
            throw new InvalidOperationException($"cannot create network namespace {ns} (the multi-host tests need root and iproute2; ./test.sh runs as root in CI): {output}");
        _namespaces.Add(ns);
        Ip(ns, "link", "set", "lo", "up");
    }

    private static void Ip(string ns, params string[] args) => Run("ip", ["-n", ns, .. args]);

    private static string Run(string file, IReadOnlyList<string> args, bool check = true)
    {
        var (code, output) = RunCode(file, args);
        if (check && code != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({code}): {output}");
        return output;
    }

    private static (int Code, string Output) RunCode(string file, IReadOnlyList<string> args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, output.Result + errors.Result);
    }
}
