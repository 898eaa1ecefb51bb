using KvmCluster.Grains.Contracts;
using KvmCluster.Hosting.Drivers.Qemu;
using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Model;

namespace KvmCluster.Silo.Tests.Security;

/// <summary>
/// QEMU's migration stream over TLS between two real QEMU "hypervisors" (the QEMU driver on this machine, TCG), with
/// certificates openssl made for the test: a migration with TLS on both sides completes with the guest running on;
/// a plaintext source, or a source whose certificate another authority signed, is refused by QEMU itself and the guest
/// stays where it ran.
/// </summary>
[Collection("qemu")]
public sealed class QemuMigrationTlsTests : IAsyncLifetime
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("kvtls-");
    private readonly List<QemuHypervisor> _hosts = [];

    private QemuHypervisor Host(string name, string? tls)
    {
        var options = new QemuOptions { Binary = TestGuest.Qemu, StopGuestsOnShutdown = true, Accel = "tcg", TlsDirectory = tls };
        var host = new QemuHypervisor(name, options, Path.Combine(_dir.FullName, name), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        _hosts.Add(host);
        return host;
    }

    private string Serial(string host, string guest) => GuestFiles.For(Path.Combine(_dir.FullName, host, "qemu"), guest).Serial;

    private static Guest TestVm(string name) => new()
    {
        Name = name,
        VCpus = 1,
        MemoryMiB = 128,
        Boot = new GuestBoot(TestGuest.Kernel, "buf=16 rate=2 seed=1"),
    };

    private static MigrationOrder Order(string guest, string from, string to) =>
        new(guest, from, to, null, new Policies.Rules.MigrationSettings(), Policies.Migration.MigrationPlanning.MinimumDeadlineSeconds, []);

    [Fact]
    public async Task With_tls_a_migration_completes_and_a_plaintext_or_foreign_source_is_refused_by_qemu()
    {
        var ca = Path.Combine(_dir.FullName, "ca");
        TestPki.OpensslAuthority(ca, "cluster CA");
        var foreignCa = Path.Combine(_dir.FullName, "foreign-ca");
        TestPki.OpensslAuthority(foreignCa, "someone else's CA");
        var tlsA = TestPki.OpensslHost(ca, "hv-a", "127.0.0.1", Path.Combine(_dir.FullName, "tls-a"));
        var tlsB = TestPki.OpensslHost(ca, "hv-b", "127.0.0.1", Path.Combine(_dir.FullName, "tls-b"));
        var tlsX = TestPki.OpensslHost(foreignCa, "hv-x", "127.0.0.1", Path.Combine(_dir.FullName, "tls-x"));

        var a = Host("hv-a", tlsA);
        var b = Host("hv-b", tlsB);
        var plain = Host("hv-plain", null);
        var foreign = Host("hv-x", tlsX);

        // Both sides with the cluster's certificates: the guest arrives and runs on.
        await a.LaunchAsync(TestVm("vm-t"), CancellationToken.None);
        await TestGuest.HeartbeatAfter(Serial("hv-a", "vm-t"), 0, TimeSpan.FromSeconds(30));
        var endpoint = await b.PrepareIncomingAsync(TestVm("vm-t"), Order("vm-t", "hv-a", "hv-b"), CancellationToken.None);
        await a.MigrateAsync("vm-t", endpoint, Order("vm-t", "hv-a", "hv-b"), _ => Task.CompletedTask, CancellationToken.None);
        await b.CommitIncomingAsync("vm-t", CancellationToken.None);
        await a.ReleaseOutgoingAsync("vm-t", CancellationToken.None);
        var beat = TestGuest.LastHeartbeat(Serial("hv-b", "vm-t"));
        await TestGuest.HeartbeatAfter(Serial("hv-b", "vm-t"), beat, TimeSpan.FromSeconds(30));

        // A source without TLS, then one with another authority's certificate, to a destination with TLS on.
        foreach (var (source, name) in new[] { (plain, "hv-plain"), (foreign, "hv-x") })
        {
            var guest = $"vm-{name}";
            await source.LaunchAsync(TestVm(guest), CancellationToken.None);
            await TestGuest.HeartbeatAfter(Serial(name, guest), 0, TimeSpan.FromSeconds(30));
            var order = Order(guest, name, "hv-b");
            var incoming = await b.PrepareIncomingAsync(TestVm(guest), order, CancellationToken.None);
            var refused = await Assert.ThrowsAnyAsync<Exception>(() => source.MigrateAsync(guest, incoming, order, _ => Task.CompletedTask, CancellationToken.None));
            Assert.DoesNotContain("completed", refused.Message, StringComparison.OrdinalIgnoreCase);
            // QEMU's own words on the destination: the stream was not a TLS session it could accept.
            var said = await ThreeHypervisors.Eventually(() => Task.FromResult(b.QemuErrors(guest) ?? ""), e => e.Length > 0, TimeSpan.FromSeconds(30));
            Assert.Matches("(?i)tls|handshake|certificate", said);
            Assert.NotEqual(DestinationFact.Received, await b.IncomingStateAsync(guest, CancellationToken.None));
            try { await b.AbortIncomingAsync(guest, CancellationToken.None); } catch (ClusterException) { /* it exited on its own */ }
            await source.ResumeOutgoingAsync(guest, CancellationToken.None);
            var last = TestGuest.LastHeartbeat(Serial(name, guest));
            await TestGuest.HeartbeatAfter(Serial(name, guest), last, TimeSpan.FromSeconds(30));
            Assert.Equal([guest], (await source.InventoryAsync(CancellationToken.None)).Select(g => g.Name));
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var h in _hosts) await h.DisposeAsync();
        _dir.Delete(recursive: true);
    }
}
