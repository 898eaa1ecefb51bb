using KvmCluster.Policies.Documents;
using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Tests;

public class FleetDocumentTests
{
    private const string Fleet = """
        sampleIntervalSeconds: 60
        hosts:
          - name: hv-01
            cpu:
              vendor: GenuineIntel
              model: Intel Xeon Gold 6230
              flags: [lm, nx, vmx, pdpe1gb]
              qemuModels: [qemu64, Skylake-Server]
              nested: true
              threads: 80
              mhzPerThread: 2100
            memoryMiB: 393216
            hugepages: [ { size: 2M, total: 4096, free: 4000, reserved: 10 }, { size: 1G, total: 8, free: 8 } ]
            ksm: { enabled: true, pagesSharing: 1000 }
            power: on
            pci: [ { address: "0000:3b:00.0", id: "10de:1db6" } ]
            sriov: [ { pf: "0000:5e:00.0", network: physnet1, totalVfs: 8, freeVfs: 6 } ]
            storage: { mounts: { /var/lib/kvm/shared: "nfs1:/export/vm" }, images: [debian-12.qcow2], localFreeGiB: 500 }
            labels: { rack: r1 }
            powerModel: { preset: hp-ml110-g5, standbyWatts: 8 }
        guests:
          - name: web-01
            uuid: 6f1c1c0e-2d59-4a55-9d1b-0b8a3c1f2e11
            vcpus: 4
            memoryMiB: 8192
            cpu: Skylake-Server,+vmx,-hle
            hugepages: 2M
            pci: ["10de:1db6"]
            sriov: { vfs: 1, network: physnet1 }
            disks: [ { shared: /var/lib/kvm/shared, export: "nfs1:/export/vm", image: /var/lib/kvm/shared/web-01.qcow2 }, { overlay: debian-12.qcow2 }, { local: 20 } ]
            labels: { app: web }
            affinity: [ { notGuest: app=web, hard: true }, { host: rack=r1, hard: false, weight: 2 } ]
            host: hv-01
            usage: { cpuMhz: [100, 200], memoryMiB: [4000, 4100], dirtyMiBps: [1, 2] }
        """;

    [Fact]
    public void Every_field_is_read()
    {
        var f = FleetDocument.Parse(Fleet, "fleet.yaml");
        Assert.Equal(60, f.SampleIntervalSeconds);
        var h = Assert.Single(f.Hosts);
        Assert.Equal(PowerState.On, h.Power);
        Assert.Equal(4000 - 10, h.Pool(HugepagePool.Size2M)!.Available);
        Assert.Equal(8, h.Pool(HugepagePool.Size1G)!.Total);
        Assert.Equal(393216 - 8192 - 8192, h.GeneralMemoryMiB);
        Assert.Equal(PowerModel.HpMl110G5.Watts, h.PowerModel!.Watts);
        Assert.Equal(8, h.PowerModel.StandbyWatts);
        Assert.Equal("nfs1:/export/vm", h.Storage.Mounts["/var/lib/kvm/shared"]);
        var g = Assert.Single(f.Guests);
        Assert.Equal(CpuMode.Custom, g.Cpu.Mode);
        Assert.Equal("Skylake-Server,+vmx,-hle", g.Cpu.ToString());
        Assert.True(g.Cpu.WantsNested);
        Assert.Equal(4096, g.HugepageCount);
        Assert.Equal(3, g.Disks.Length);
        Assert.Equal("/var/lib/kvm/shared/web-01.qcow2", g.Disks[0].Image);
        Assert.Equal(2, g.Affinity.Length);
        Assert.True(g.Affinity[0].Anti && g.Affinity[0].Hard && g.Affinity[0].Scope == AffinityScope.Guest);
        Assert.Equal(200, g.Usage.LastCpuMhz);
    }

    [Theory]
    [InlineData("    vcpus: 4", "    vcpus: 0", "guests[0].vcpus", "must be between 1 and 4096, got 0")]
    [InlineData("  - name: web-01", "  - name: \"web 01;rm\"", "guests[0].name", "must match")]
    [InlineData("    hugepages: 2M", "    hugepages: 4M", "guests[0].hugepages", "is not 2M or 1G")]
    [InlineData("    cpu: Skylake-Server,+vmx,-hle", "    cpu: Skylake-Server,vmx", "guests[0].cpu", "must start with '+' or '-'")]
    [InlineData("    power: on", "    power: sleeping", "hosts[0].power", "is not one of: on, standby, off")]
    [InlineData("image: /var/lib/kvm/shared/web-01.qcow2", "image: /srv/other/web-01.qcow2", "guests[0].disks[0].image", "is not under the disk's mount /var/lib/kvm/shared")]
    [InlineData("    memoryMiB: 393216", "    memoryMiB: 393216\n    colour: blue", "hosts[0].colour", "unknown key")]
    [InlineData("    pci: [\"10de:1db6\"]", "    pci: [\"nvidia\"]", "guests[0].pci", "not a vendor:device id")]
    [InlineData("    host: hv-01", "    host: hv-99", "", "runs on unknown host 'hv-99'")]
    [InlineData("    usage: { cpuMhz: [100, 200]", "    usage: { cpuMhz: [100, -5]", "guests[0].usage.cpuMhz[1]", "expected a number ≥ 0")]
    public void Errors_name_file_line_and_field(string find, string replace, string path, string message)
    {
        var text = Fleet.Replace(find, replace);
        Assert.NotEqual(Fleet, text);
        var ex = Assert.Throws<DocumentException>(() => FleetDocument.Parse(text, "fleet.yaml"));
        var e = Assert.Single(ex.Errors, x => x.Path == path && x.Message.Contains(message));
        Assert.Equal("fleet.yaml", e.File);
        if (path.Length > 0)
        {
            var line = text.Split('\n')[e.Line - 1];
            Assert.Contains(path.Split('.').Last().Split('[')[0], line + " " + path); // the line is the field's own line
        }
    }

    [Fact]
    public void Hugepage_guests_cannot_be_ballooned()
    {
        var text = Fleet.Replace("    hugepages: 2M", "    hugepages: 2M\n    balloonTargetMiB: 4096");
        var ex = Assert.Throws<DocumentException>(() => FleetDocument.Parse(text, "f.yaml"));
        Assert.Contains(ex.Errors, e => e.Message.Contains("cannot be ballooned"));
    }

    [Fact]
    public void Shipped_sample_fleets_are_valid()
    {
        var dir = Path.Combine(RepoRoot.Find(), "samples");
        var files = Directory.GetFiles(dir, "*.yaml");
        Assert.NotEmpty(files);
        foreach (var f in files) FleetDocument.Parse(File.ReadAllText(f), f);
    }
}
