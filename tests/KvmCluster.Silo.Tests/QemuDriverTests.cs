using KvmCluster.Grains.Contracts;
using KvmCluster.Hosting.Drivers.Qemu;
using KvmCluster.Policies.Model;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvmCluster.Silo.Tests;

/// <summary>The QEMU driver on real QEMU (TCG here): two "hypervisors" on this machine, each with its own state directory.</summary>
[Collection("qemu")]
public sealed class QemuDriverTests : IAsyncLifetime
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("kvq-");
    private readonly List<QemuHypervisor> _hosts = [];

    private QemuHypervisor Host(string name)
    {
        var options = new QemuOptions { Binary = TestGuest.Qemu, StopGuestsOnShutdown = true, Accel = "tcg" };
        var host = new QemuHypervisor(name, options, Path.Combine(_dir.FullName, name), NullLogger.Instance);
        _hosts.Add(host);
        return host;
    }

    private string Serial(string host, string guest) => GuestFiles.For(Path.Combine(_dir.FullName, host, "qemu"), guest).Serial;

    private static Guest TestVm(string name, int buf = 32, int rate = 5) => new()
    {
        Name = name,
        VCpus = 1,
        MemoryMiB = 128,
        Boot = new GuestBoot(TestGuest.Kernel, $"buf={buf} rate={rate} seed=1"),
    };

    private static Task<int> HeartbeatAfter(string serial, int after, TimeSpan within) => TestGuest.HeartbeatAfter(serial, after, within);

    [Fact]
    public async Task A_guest_launches_reports_and_live_migrates_to_another_qemu_and_keeps_running()
    {
        var a = Host("hv-a");
        var b = Host("hv-b");
        var (facts, problem) = await a.DiscoverAsync(CancellationToken.None);
        Assert.Null(problem);
        Assert.Contains("qemu64", facts.Cpu.QemuModels);
        Assert.Matches(@"^qemu [0-9]+\.[0-9]+\.[0-9]+ \(tcg\)$", a.Kind);

        await a.LaunchAsync(TestVm("vm-1"), CancellationToken.None);
        await HeartbeatAfter(Serial("hv-a", "vm-1"), 0, TimeSpan.FromSeconds(20));
        Assert.Equal(["vm-1"], (await a.InventoryAsync(CancellationToken.None)).Select(g => g.Name));
        // The monitor socket and the state directory are the silo's alone.
        var files = GuestFiles.For(Path.Combine(_dir.FullName, "hv-a", "qemu"), "vm-1");
        Assert.True(OperatingSystem.IsLinux());
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(files.Qmp));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(files.Qmp)!));
        }

        var order = new MigrationOrder("vm-1", "hv-a", "hv-b", null, new Policies.Rules.MigrationSettings(), Policies.Migration.MigrationPlanning.MinimumDeadlineSeconds, []);
        var endpoint = await b.PrepareIncomingAsync(TestVm("vm-1"), order, CancellationToken.None);
        Assert.Matches("^tcp:127.0.0.1:[0-9]+$", endpoint);
        Assert.Empty(await b.InventoryAsync(CancellationToken.None)); // arriving, not running
        var progress = new List<MigrationProgress>();
        await a.MigrateAsync("vm-1", endpoint, order, p => { progress.Add(p); return Task.CompletedTask; }, CancellationToken.None);
        await b.CommitIncomingAsync("vm-1", CancellationToken.None);
        await a.ReleaseOutgoingAsync("vm-1", CancellationToken.None);

        Assert.NotEmpty(progress);
        Assert.Contains(progress, p => p.TransferredMiB > 0);
        var before = TestGuest.LastHeartbeat(Serial("hv-b", "vm-1"));
        await HeartbeatAfter(Serial("hv-b", "vm-1"), before, TimeSpan.FromSeconds(20));
        Assert.Empty(await a.InventoryAsync(CancellationToken.None));
        Assert.Equal(["vm-1"], (await b.InventoryAsync(CancellationToken.None)).Select(g => g.Name));
    }

    [Fact]
    public async Task Cancelling_a_migration_that_cannot_converge_leaves_the_source_running()
    {
        var a = Host("hv-a");
        var b = Host("hv-b");
        // 64 MiB dirtied at 100 MiB/s through an 8 MiB/s link: it never converges.
        await a.LaunchAsync(TestVm("vm-2", buf: 64, rate: 100), CancellationToken.None);
        await HeartbeatAfter(Serial("hv-a", "vm-2"), 0, TimeSpan.FromSeconds(20));
        var order = new MigrationOrder("vm-2", "hv-a", "hv-b", null, new Policies.Rules.MigrationSettings { BandwidthMiBps = 8 }, Policies.Migration.MigrationPlanning.MinimumDeadlineSeconds, []);
        var endpoint = await b.PrepareIncomingAsync(TestVm("vm-2", buf: 64, rate: 100), order, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var migrating = a.MigrateAsync("vm-2", endpoint, order, p => { if (p.TransferredMiB > 16) cancel.Cancel(); return Task.CompletedTask; }, cancel.Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => migrating);
        await b.AbortIncomingAsync("vm-2", CancellationToken.None);
        await a.ResumeOutgoingAsync("vm-2", CancellationToken.None);
        var beat = TestGuest.LastHeartbeat(Serial("hv-a", "vm-2"));
        await HeartbeatAfter(Serial("hv-a", "vm-2"), beat, TimeSpan.FromSeconds(20));
        Assert.Equal(["vm-2"], (await a.InventoryAsync(CancellationToken.None)).Select(g => g.Name));
        Assert.Empty(await b.InventoryAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_restarted_silo_adopts_the_guests_its_predecessor_left_running()
    {
        var options = new QemuOptions { Binary = TestGuest.Qemu, Accel = "tcg", StopGuestsOnShutdown = false };
        var state = Path.Combine(_dir.FullName, "hv-r");
        var before = new QemuHypervisor("hv-r", options, state, NullLogger.Instance);
        await before.LaunchAsync(TestVm("vm-5"), CancellationToken.None);
        await HeartbeatAfter(Serial("hv-r", "vm-5"), 0, TimeSpan.FromSeconds(20));
        await before.DisposeAsync(); // the silo stops; the guest does not

        var after = Host("hv-r");
        var (_, problem) = await after.DiscoverAsync(CancellationToken.None);
        Assert.Null(problem);
        var adopted = await after.InventoryAsync(CancellationToken.None);
        Assert.Equal(["vm-5"], adopted.Select(g => g.Name));
        Assert.Equal(128, adopted.Single().MemoryMiB);
        var beat = TestGuest.LastHeartbeat(Serial("hv-r", "vm-5"));
        await HeartbeatAfter(Serial("hv-r", "vm-5"), beat, TimeSpan.FromSeconds(20)); // it never stopped
        Assert.Equal("running", (await after.ControlAsync("vm-5", new GuestControl(GuestAction.Status), CancellationToken.None)).RunState);
        await after.StopAsync("vm-5", CancellationToken.None);
        Assert.False(File.Exists(Path.Combine(state, "qemu", "vm-5.spec.json")));
    }

    [Fact]
    public async Task QEMU_refusing_to_start_is_reported_with_its_own_words()
    {
        var a = Host("hv-a");
        // A CPU model TCG cannot provide in full, with enforce: QEMU names the missing features and exits.
        var guest = TestVm("vm-3") with { Cpu = GuestCpu.Named("Skylake-Server") };
        var refused = await Assert.ThrowsAsync<ClusterException>(() => a.LaunchAsync(guest, CancellationToken.None));
        Assert.Contains("QEMU refused to start guest 'vm-3'", refused.Message);
        Assert.Contains("TCG doesn't support requested feature", refused.Message);
        Assert.Empty(await a.InventoryAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Without_QEMU_the_host_says_so_and_accepts_no_guests()
    {
        var options = new QemuOptions { Binary = "/nonexistent/qemu-system-x86_64" };
        await using var host = new QemuHypervisor("hv-none", options, Path.Combine(_dir.FullName, "none"), NullLogger.Instance);
        var (_, problem) = await host.DiscoverAsync(CancellationToken.None);
        Assert.Contains("QEMU is not usable here", problem);
        var refused = await Assert.ThrowsAsync<ClusterException>(() => host.LaunchAsync(TestVm("vm-4"), CancellationToken.None));
        Assert.Equal(ProblemKind.Unavailable, refused.Kind);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var h in _hosts) await h.DisposeAsync();
        _dir.Delete(recursive: true);
    }
}
