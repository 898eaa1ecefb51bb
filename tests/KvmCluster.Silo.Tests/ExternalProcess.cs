using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KvmCluster.Silo.Tests;

/// <summary>A real process (redis-server, a kvmcluster silo, the CLI) with its output kept for failure messages.</summary>
public sealed class ExternalProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    /// <param name="input">Written to its standard input, which is then closed (null: input stays open, empty).</param>
    public ExternalProcess(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, string? input = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) info.Environment[k] = v;
        _process = new Process { StartInfo = info };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (input is not null)
        {
            _process.StandardInput.Write(input);
            _process.StandardInput.Close();
        }
    }

    public int Pid => _process.Id;
    public int ExitCode => _process.ExitCode;
    public bool HasExited => _process.HasExited;
    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <summary>SIGKILL: no shutdown, no goodbye to the cluster (a host losing power).</summary>
    public void KillHard()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGKILL of this process alone: what it started lives on (a silo's QEMUs outlive it).</summary>
    public void KillProcessOnly()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: false);
        _process.WaitForExit(10_000);
    }

    public async Task<int> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit(); // flush the output handlers
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try { KillHard(); } catch (InvalidOperationException) { }
        _process.Dispose();
    }

    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>The kvmcluster build next to this test assembly (the test project references the silo project).</summary>
    public static string Kvmcluster => Path.Combine(AppContext.BaseDirectory, "kvmcluster.dll");

    /// <summary>redis-server must be installed (test.sh installs it); a missing one fails loudly.</summary>
    public static string RedisServer()
    {
        foreach (var dir in new[] { "/usr/bin", "/usr/local/bin", "/usr/sbin" })
            if (File.Exists(Path.Combine(dir, "redis-server"))) return Path.Combine(dir, "redis-server");
        throw new InvalidOperationException("redis-server is not installed: run ./test.sh (it installs it) or apt-get install redis-server");
    }
}
