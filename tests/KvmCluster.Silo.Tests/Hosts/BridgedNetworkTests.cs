using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KvmCluster.Policies.Model;
using static KvmCluster.Silo.Tests.LinuxTestGuest;

namespace KvmCluster.Silo.Tests.Hosts;

/// <summary>
/// Guests on a named network across separate hosts: three hosts in network namespaces, a bridge br-lab on two of
/// them joined by veth pairs (the third has none), a real Linux guest on each of the two with a static address
/// pinging the other — before and after one of them live-migrates. A host without the network is refused, with why.
/// </summary>
[Collection("qemu")]
public sealed class BridgedNetworkTests
{
    private static object Spec(string name, string address, string peer) => new Dictionary<string, object?>
    {
        ["name"] = name,
        ["vCpus"] = 1,
        ["memoryMiB"] = 256,
        ["networks"] = new[] { new { network = "lab" } },
        ["boot"] = new { kernel = Kernel, initrd = Initrd, append = $"console=ttyS0 quiet kvmtest.ip={address}/24 kvmtest.ping={peer}" },
    };

    [Fact]
    public async Task Two_Linux_guests_on_a_bridged_network_ping_each_other_across_hosts_before_and_after_a_live_migration()
    {
        _ = (Kernel, Initrd);
        await using var cluster = await NamespaceCluster.StartAsync(["na", "nb", "nc"], "qemu",
            new Dictionary<string, string> { ["KVMCLUSTER__QEMU__NETWORKS__lab__BRIDGE"] = "br-lab" });
        try
        {
            cluster.AddGuestNetwork("br-lab", "na", "nb");
            // A network is a host's when its bridge is there: na and nb report it, nc does not.
            await NamespaceCluster.Until(() => cluster.GetAsync<JsonElement>("/api/hosts"), hosts =>
                hosts.EnumerateArray().Count(h => h.GetProperty("facts").GetProperty("networks").EnumerateArray().Any(n => n.GetString() == "lab")) == 2,
                TimeSpan.FromSeconds(60), "hosts reporting network lab");
            var hosts = (await cluster.GetAsync<JsonElement>("/api/hosts")).EnumerateArray().ToDictionary(h => h.GetProperty("name").GetString()!, h => h.GetProperty("facts"));
            Assert.Empty(hosts["nc"].GetProperty("networks").EnumerateArray());

            foreach (var (guest, host, address, peer) in new[] { ("lan-a", "na", "192.168.77.1", "192.168.77.2"), ("lan-b", "nb", "192.168.77.2", "192.168.77.1") })
            {
                using var defined = await cluster.Api().PutAsJsonAsync($"/api/guests/{guest}", Spec(guest, address, peer));
                Assert.Equal(HttpStatusCode.Created, defined.StatusCode);
                await cluster.PostAsync($"/api/guests/{guest}/start", new { host });
            }
            // Each guest reaches the other over the bridges and the wire between the hosts.
            foreach (var (guest, host) in new[] { ("lan-a", "na"), ("lan-b", "nb") })
                await NamespaceCluster.Until(() => Task.FromResult(Pings(cluster.Serial(host, guest))), p => p.Count > 0 && p[^1].Ok, TimeSpan.FromSeconds(180), $"{guest} pinging its peer");
            // Its MAC is the one derived from its name, on the guest's own NIC.
            var mac = new GuestNic("lab").MacOf("lan-a", 0);
            Assert.Equal(mac, Macs(cluster.Serial("na", "lan-a"))["eth0"]);
            var tap = Hosting.Drivers.Qemu.QemuNetworks.TapName("na", "lan-a", 0);
            Assert.Contains(tap, NetworkNamespaces.Links(cluster.NamespaceOf("na")));

            // A host without the network cannot run them, and says why.
            using (var refused = await cluster.Api().PostAsJsonAsync("/api/migrations", new { guest = "lan-a", to = "nc" }))
            {
                Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
                Assert.Contains("no network 'lab'", await refused.Content.ReadAsStringAsync());
            }
            using (var define = await cluster.Api().PutAsJsonAsync("/api/guests/lan-c", Spec("lan-c", "192.168.77.3", "192.168.77.1"))) Assert.Equal(HttpStatusCode.Created, define.StatusCode);
            using (var refused = await cluster.Api().PostAsJsonAsync("/api/guests/lan-c/start", new { host = "nc" }))
            {
                Assert.True(refused.StatusCode == HttpStatusCode.Conflict, await refused.Content.ReadAsStringAsync());
                Assert.Contains("no network 'lab'", await refused.Content.ReadAsStringAsync());
            }

            // Live-migrated to nb: it keeps its address and MAC and its peer still answers; na's tap is gone.
            var before = Pings(cluster.Serial("na", "lan-a")).Count;
            var migration = (await cluster.PostAsync("/api/migrations", new { guest = "lan-a", to = "nb" })).GetProperty("id").GetString()!;
            var ended = await NamespaceCluster.Until(() => cluster.GetAsync<JsonElement>($"/api/migrations/{migration}"),
                m => m.GetProperty("status").GetString() is "completed" or "failed" or "cancelled", TimeSpan.FromSeconds(180), "the migration");
            Assert.Equal("completed", ended.GetProperty("status").GetString());
            var after = await NamespaceCluster.Until(() => Task.FromResult(Pings(cluster.Serial("nb", "lan-a"))), p => p.Count >= 3 && p[^1].Ok && p[^2].Ok,
                TimeSpan.FromSeconds(120), "lan-a pinging from nb");
            Assert.True(after[^1].Beat > before, "the guest's counter went on from where it was");
            Assert.DoesNotContain(tap, NetworkNamespaces.Links(cluster.NamespaceOf("na")));
            Assert.Contains(Hosting.Drivers.Qemu.QemuNetworks.TapName("nb", "lan-a", 0), NetworkNamespaces.Links(cluster.NamespaceOf("nb")));
            var spec = (await cluster.GetAsync<JsonElement>("/api/guests/lan-a")).GetProperty("spec").GetProperty("networks")[0];
            Assert.Equal("lab", spec.GetProperty("network").GetString());
            await NamespaceCluster.Until(() => Task.FromResult(Pings(cluster.Serial("nb", "lan-b"))), p => p.Count > 0 && p[^1].Ok, TimeSpan.FromSeconds(60), "lan-b still pinging");

            // A NIC hot-plugged onto the network: a tap on nb's bridge, the Linux guest lists the new interface, the
            // spec carries its network (so a destination must have it too). An unknown network is refused, naming it.
            var interfaces = LastBeat(cluster.Serial("nb", "lan-a"))!.Interfaces.Count;
            using (var unknown = await cluster.Api().PostAsJsonAsync("/api/guests/lan-a/actions", new { action = "device-add", name = "lan8", driver = "virtio-net-pci", network = "nope" }))
            {
                Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
                Assert.Contains("network 'nope'", await unknown.Content.ReadAsStringAsync());
            }
            await cluster.PostAsync("/api/guests/lan-a/actions", new { action = "device-add", name = "lan9", driver = "virtio-net-pci", network = "lab" });
            await NamespaceCluster.Until(() => Task.FromResult(LastBeat(cluster.Serial("nb", "lan-a"))!), b => b.Interfaces.Count == interfaces + 1, TimeSpan.FromSeconds(60), "the hot-plugged NIC in the guest");
            Assert.Contains(Hosting.Drivers.Qemu.QemuNetworks.TapName("nb", "lan-a", "lan9"), NetworkNamespaces.Links(cluster.NamespaceOf("nb")));
            var device = (await cluster.GetAsync<JsonElement>("/api/guests/lan-a")).GetProperty("spec").GetProperty("devices")[0];
            Assert.Equal(("lan9", "lab"), (device.GetProperty("id").GetString(), device.GetProperty("network").GetString()));
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException($"{e}\n{cluster.AllLogs("bridged-network")}");
        }
    }
}
