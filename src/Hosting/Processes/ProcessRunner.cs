using System.Diagnostics;

namespace KvmCluster.Hosting.Processes;

/// <summary>The outcome of a finished external program.</summary>
public sealed record ProcessResult(int ExitCode, string Output, string Error);

/// <summary>
/// Runs an external program from an argv array (never through a shell, so no value is ever interpreted), with a
/// timeout after which the program is killed.
/// </summary>
public static class ProcessRunner
{
    public static async Task<ProcessResult> RunAsync(string program, IReadOnlyList<string> args, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try { await process.WaitForExitAsync(deadline.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (cancellationToken.IsCancellationRequested) throw;
            throw new TimeoutException($"{program} did not finish within {timeout.TotalSeconds:0} s (killed)");
        }
        return new ProcessResult(process.ExitCode, (await output).Trim(), (await error).Trim());
    }
}
