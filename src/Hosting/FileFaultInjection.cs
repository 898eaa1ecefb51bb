using KvmCluster.Grains.Ports;

namespace KvmCluster.Hosting;

/// <summary>
/// Fault points for the fault-injection tests, through a directory every silo of the test shares (environment
/// KVMCLUSTER_FAULTS). The test arms a point by writing "POINT GUEST" to `arm`; the first silo to reach it claims it
/// (an atomic rename, so exactly one stops), writes `reached` ("POINT GUEST PID HYPERVISOR") and waits until the test
/// deletes `reached` — or kills this silo meanwhile. Without the variable a silo has no fault points at all.
/// </summary>
public sealed class FileFaultInjection(string directory, string hypervisor, ILogger<FileFaultInjection> log) : IFaultInjection
{
    public const string Variable = "KVMCLUSTER_FAULTS";

    public static IFaultInjection FromEnvironment(IServiceProvider services, string hypervisor) =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } dir
            ? new FileFaultInjection(dir, hypervisor, services.GetRequiredService<ILogger<FileFaultInjection>>())
            : NoFaultInjection.Instance;

    public async Task At(string point, string guest)
    {
        var arm = Path.Combine(directory, "arm");
        string armed;
        try { armed = (await File.ReadAllTextAsync(arm)).Trim(); }
        catch (IOException) { return; } // not armed (FileNotFoundException is an IOException)
        if (armed != $"{point} {guest}") return;
        var claimed = Path.Combine(directory, $"claimed-{Environment.ProcessId}");
        try { File.Move(arm, claimed); }
        catch (IOException) { return; } // another silo claimed it first
        var reached = Path.Combine(directory, "reached");
        await File.WriteAllTextAsync(reached + ".tmp", $"{point} {guest} {Environment.ProcessId} {hypervisor}");
        File.Move(reached + ".tmp", reached, overwrite: true);
        File.Delete(claimed);
        log.LogWarning("fault point {Point} reached for {Guest}: waiting for the fault-injection test", point, guest);
        while (File.Exists(reached)) await Task.Delay(20);
        log.LogWarning("fault point {Point} released", point);
    }
}
