using System.Diagnostics;

namespace KvmCluster.Sim.Tests;

/// <summary>Runs the real kvmsim executable (built next to the tests) and captures what it prints.</summary>
internal static class Kvmsim
{
    public sealed record Run(int ExitCode, string Out, string Err);

    public static Run Exec(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "kvmsim.dll");
        Assert.True(File.Exists(dll), $"kvmsim.dll not found next to the tests ({dll})");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "kvmsim did not finish within 2 minutes");
        return new Run(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "KvmCluster.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("KvmCluster.sln not found");
    }

    public static string Temp(string name, string content)
    {
        var dir = Path.Combine(Path.GetTempPath(), "kvmsim-tests-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, content);
        return path;
    }
}
