using System.Diagnostics;
using System.Text;

namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>One QEMU process this silo started: the process, its QMP connection, what it wrote to stderr.</summary>
public sealed class QemuProcess : IAsyncDisposable
{
    private readonly StringBuilder _stderr = new();
    private QemuProcess(Process process, GuestFiles files) { Process = process; Files = files; }

    public Process Process { get; }
    public GuestFiles Files { get; }
    public QmpClient Qmp { get; private set; } = null!;
    public bool HasExited => Process.HasExited;

    /// <summary>"exited with code N", or just "exited" for a QEMU a previous silo started (its code went to that silo).</summary>
    public string Exit
    {
        get
        {
            try { return $"exited with code {Process.ExitCode}"; }
            catch (InvalidOperationException) { return "exited"; }
        }
    }

    /// <summary>QEMU's own words on stderr (why it refused to start, e.g. too few hugepages).</summary>
    public string Errors { get { lock (_stderr) return _stderr.ToString().Trim(); } }

    /// <summary>Starts QEMU and connects to its QMP socket; if QEMU exits first, its stderr is the error.</summary>
    public static async Task<QemuProcess> StartAsync(string binary, IReadOnlyList<string> args, GuestFiles files, TimeSpan timeout, CancellationToken cancellationToken)
    {
        foreach (var stale in new[] { files.Qmp, files.Pid, files.Console }) File.Delete(stale); // a previous QEMU's leftovers
        var start = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        Process process;
        try { process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {binary}"); }
        catch (System.ComponentModel.Win32Exception e) { throw new InvalidOperationException($"could not start {binary}: {e.Message}"); }
        var qemu = new QemuProcess(process, files);
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (qemu._stderr) qemu._stderr.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        var connect = QmpClient.ConnectAsync(files.Qmp, timeout, cancellationToken);
        var exited = process.WaitForExitAsync(cancellationToken);
        if (await Task.WhenAny(connect, exited) == exited || process.HasExited)
        {
            await Task.Delay(50, CancellationToken.None); // let stderr drain
            var why = qemu.Errors;
            if (connect.IsCompletedSuccessfully) await connect.Result.DisposeAsync();
            throw new QemuStartException(process.ExitCode, why.Length > 0 ? why : "(no message)");
        }
        try
        {
            qemu.Qmp = await connect;
            qemu._watch = qemu.WatchEvents();
            // The monitor is root on this guest: owner only (the state directory is 0700 too, against the moment
            // between QEMU creating the socket and this).
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(files.Qmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        catch (Exception)
        {
            // QEMU may open its socket and then give up (a CPU model it cannot provide): its exit says why.
            try { await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(2)).Token); } catch (OperationCanceledException) { }
            if (process.HasExited)
            {
                await Task.Delay(50, CancellationToken.None);
                throw new QemuStartException(process.ExitCode, qemu.Errors is { Length: > 0 } e ? e : "(no message)");
            }
            await qemu.KillAsync();
            throw;
        }
        return qemu;
    }

    /// <summary>Reconnects to a QEMU a previous silo started (its pid file names it; it must still be QEMU).</summary>
    public static async Task<QemuProcess?> AttachAsync(GuestFiles files, TimeSpan timeout)
    {
        if (!File.Exists(files.Pid) || !int.TryParse((await File.ReadAllTextAsync(files.Pid)).Trim(), out var pid)) return null;
        Process process;
        try { process = Process.GetProcessById(pid); }
        catch (ArgumentException) { return null; } // gone
        var cmdline = File.Exists($"/proc/{pid}/cmdline") ? await File.ReadAllTextAsync($"/proc/{pid}/cmdline") : "";
        if (!cmdline.Contains("qemu", StringComparison.Ordinal) || !cmdline.Contains(files.Qmp, StringComparison.Ordinal)) { process.Dispose(); return null; }
        var qemu = new QemuProcess(process, files);
        try { qemu.Qmp = await QmpClient.ConnectAsync(files.Qmp, timeout, CancellationToken.None); qemu._watch = qemu.WatchEvents(); }
        catch (Exception e) when (e is TimeoutException or QmpException or System.Net.Sockets.SocketException) { process.Dispose(); return null; }
        return qemu;
    }

    private Task _watch = Task.CompletedTask;
    private volatile string? _shutdownReason;
    private volatile bool _panicked;

    /// <summary>
    /// QEMU's events, read for as long as its monitor is connected: the last SHUTDOWN's reason and a GUEST_PANICKED
    /// tell, after QEMU has gone, whether the guest powered itself off, panicked, or QEMU died.
    /// </summary>
    private async Task WatchEvents()
    {
        try
        {
            await foreach (var e in Qmp.Events.ReadAllAsync())
            {
                if (e.Name == "GUEST_PANICKED") _panicked = true;
                else if (e.Name == "SHUTDOWN" && e.Data.ValueKind == System.Text.Json.JsonValueKind.Object && e.Data.TryGetProperty("reason", out var r))
                    _shutdownReason = r.GetString();
            }
        }
        catch (Exception) { /* the monitor went with QEMU */ }
    }

    /// <summary>How this QEMU, which has exited, ended: after the monitor's last events are read (at most a second).</summary>
    public async Task<Grains.Contracts.GuestExit> EndedAsync()
    {
        try { await _watch.WaitAsync(TimeSpan.FromSeconds(1)); } catch (TimeoutException) { }
        if (_panicked || _shutdownReason == "guest-panic")
            return new(Grains.Contracts.GuestExitKind.Crashed, "its kernel panicked (pvpanic); the serial log has its last words");
        if (_shutdownReason == "guest-shutdown")
            return new(Grains.Contracts.GuestExitKind.ShutDown, "it powered itself off");
        return new(Grains.Contracts.GuestExitKind.Died, $"its QEMU {Exit}" + (Errors is { Length: > 0 } e ? ": " + e : "")
            + (_shutdownReason is { } reason ? $" (QEMU's last shutdown reason: {reason})" : ""));
    }

    /// <summary>Asks QEMU to quit, kills it if it does not, and removes its socket and pid files.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (!Process.HasExited)
        {
            try { await Qmp.ExecuteAsync("quit", timeout: grace); } catch (Exception) { /* it may close before answering */ }
            try { await Process.WaitForExitAsync(new CancellationTokenSource(grace).Token); } catch (OperationCanceledException) { }
        }
        await KillAsync();
    }

    public async Task KillAsync()
    {
        if (!Process.HasExited)
        {
            try { Process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            try { await Process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token); } catch (OperationCanceledException) { }
        }
        if (Qmp is not null) await Qmp.DisposeAsync();
        foreach (var f in new[] { Files.Qmp, Files.Pid, Files.Spec, Files.Migration, Files.Console }) try { File.Delete(f); } catch (IOException) { }
    }

    public async ValueTask DisposeAsync()
    {
        if (Qmp is not null) await Qmp.DisposeAsync();
        Process.Dispose();
    }
}

/// <summary>QEMU exited while starting; <see cref="Exception.Message"/> carries what it said.</summary>
public sealed class QemuStartException(int exitCode, string stderr) : Exception($"QEMU exited with code {exitCode}: {stderr}")
{
    public string Stderr { get; } = stderr;
}
