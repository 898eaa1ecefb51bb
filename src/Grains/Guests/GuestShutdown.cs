using KvmCluster.Grains.Contracts;

namespace KvmCluster.Grains.Guests;

/// <summary>
/// virsh shutdown: the ACPI power button, then waiting for the guest to power itself off (its host sees QEMU end with
/// the guest's own shutdown: shut off, not lost). A guest that does not within the timeout is destroyed when forced,
/// else left running with a 409 that says so. Runs beside the grains (the API calls it), so a minute's wait holds up
/// neither the scheduler nor the host.
/// </summary>
public static class GuestShutdown
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(10);

    public static async Task<GuestView> RunAsync(IGrainFactory grains, string name, TimeSpan timeout, bool force, CancellationToken cancellationToken)
    {
        var scheduler = grains.GetGrain<ISchedulerGrain>(Cluster.Key);
        var guest = (await scheduler.Guests()).FirstOrDefault(g => g.Name == name) ?? throw ClusterException.NotFound($"no guest named '{name}'");
        if (guest.Status is not (GuestStatus.Running or GuestStatus.Paused) || guest.Host is not { } host)
            throw ClusterException.Conflict($"guest '{name}' is {guest.Status.ToString().ToLowerInvariant()}, not running");
        var hostGrain = grains.GetGrain<IHostGrain>(host);
        // A paused guest cannot see the power button: it runs again to hear it.
        if (guest.Status == GuestStatus.Paused) await hostGrain.Control(name, new GuestControl(GuestAction.Cont));
        await hostGrain.Control(name, new GuestControl(GuestAction.Powerdown));
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            // Each look is an inventory: the host notices the QEMU that ended and records how.
            var report = await hostGrain.Refresh();
            // Gone from its host, and its record says how it ended (the host writes that when it notices).
            if (report.Guests.All(g => g.Name != name)
                && await grains.GetGrain<IGuestGrain>(name).Get() is { Status: not (GuestStatus.Running or GuestStatus.Paused or GuestStatus.Migrating) } down)
                return down;
            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
        }
        if (!force)
            throw ClusterException.Conflict($"guest '{name}' did not power off within {timeout.TotalSeconds:0} s of the ACPI power button; it still runs on {host} (force it: --force destroys it)");
        return await scheduler.DestroyGuest(name);
    }
}
