using KvmCluster.Hosting.Facts;
using KvmCluster.Policies.Model;

namespace KvmCluster.Silo.Tests;

public sealed class HostFactsTests
{
    [Fact]
    public async Task Tuning_writes_transparent_hugepages_and_KSM_through_the_kernels_files_and_the_facts_read_them_back()
    {
        var root = Directory.CreateTempSubdirectory("kvmcluster-tune-").FullName;
        try
        {
            void W(string path, string text) { Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(root, path))!); File.WriteAllText(Path.Combine(root, path), text); }
            W("proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: lm nx\n");
            W("proc/meminfo", "MemTotal:       1048576 kB\n");
            W("sys/kernel/mm/transparent_hugepage/enabled", "[always] madvise never\n");
            W("sys/kernel/mm/transparent_hugepage/defrag", "always defer defer+madvise [madvise] never\n");
            W("sys/kernel/mm/ksm/run", "0\n");
            Assert.Equal(new ThpState("always", "madvise"), LinuxHostFacts.Discover("hv-1", root).Host.TransparentHugepages);

            await HostMemoryTuning.ApplyAsync(new KvmCluster.Grains.Contracts.HostTuning(KsmRun: true, ThpEnabled: "never", ThpDefrag: "defer"), root);
            // The kernel's files take the bare word; the kernel then shows it bracketed among the others.
            Assert.Equal("never", File.ReadAllText(Path.Combine(root, "sys/kernel/mm/transparent_hugepage/enabled")));
            Assert.Equal("defer", File.ReadAllText(Path.Combine(root, "sys/kernel/mm/transparent_hugepage/defrag")));
            Assert.Equal("1", File.ReadAllText(Path.Combine(root, "sys/kernel/mm/ksm/run")));
            W("sys/kernel/mm/transparent_hugepage/enabled", "always madvise [never]\n");
            Assert.Equal("never", LinuxHostFacts.Discover("hv-1", root).Host.TransparentHugepages.Enabled);

            var bad = new KvmCluster.Grains.Contracts.HostTuning(ThpEnabled: "sometimes");
            Assert.Equal("thpEnabled", Assert.Single(bad.Problems()).Field);
            await Assert.ThrowsAsync<KvmCluster.Grains.Contracts.ClusterException>(() => HostMemoryTuning.ApplyAsync(bad, root));
            Assert.Equal("thpDefrag", Assert.Single(new KvmCluster.Grains.Contracts.HostTuning(ThpDefrag: "defer;reboot").Problems()).Field);
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    [Fact]
    public void Facts_come_from_cpuinfo_meminfo_hugepage_pools_ksm_thp_and_the_nested_parameter()
    {
        var root = Directory.CreateTempSubdirectory("kvmcluster-facts-").FullName;
        try
        {
            void W(string path, string text) { Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(root, path))!); File.WriteAllText(Path.Combine(root, path), text); }
            var cpu = "vendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6230\nphysical id\t: {0}\ncpu cores\t: 2\ncpu MHz\t\t: 2100.000\nflags\t\t: fpu lm nx vmx pdpe1gb avx2\n";
            W("proc/cpuinfo", string.Join("\n", Enumerable.Range(0, 8).Select(i => $"processor\t: {i}\n" + string.Format(cpu, i / 4))) + "\n");
            W("proc/meminfo", "MemTotal:       65842148 kB\nMemFree:        1000 kB\n");
            W("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "512\n");
            W("sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "500\n");
            W("sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages", "20\n");
            W("sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", "4\n");
            W("sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages", "4\n");
            W("sys/kernel/mm/ksm/run", "1\n");
            W("sys/kernel/mm/ksm/pages_sharing", "2560\n");
            W("sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n");
            W("sys/module/kvm_intel/parameters/nested", "Y\n");
            W("dev/kvm", "");

            var d = LinuxHostFacts.Discover("hv-07", root, ["Cascadelake-Server", "qemu64"]);
            var h = d.Host;
            Assert.Equal("GenuineIntel", h.Cpu.Vendor);
            Assert.Equal((2, 4, 8), (h.Cpu.Sockets, h.Cpu.Cores, h.Cpu.Threads));
            Assert.True(h.Cpu.HasFlag("nx") && h.Cpu.HasFlag("vmx") && h.Cpu.HasFlag("pdpe1gb"));
            Assert.True(h.Cpu.NestedEnabled);
            Assert.Equal(64298, h.MemoryMiB);
            Assert.Equal([new HugepagePool(1048576, 4, 4, 0), new HugepagePool(2048, 512, 500, 20)], h.Hugepages.OrderByDescending(p => p.PageSizeKiB));
            Assert.Equal(new KsmState(true, 2560), h.Ksm);
            Assert.Equal("madvise", d.TransparentHugepages);
            Assert.Null(d.KvmProblem);
            Assert.Contains("Cascadelake-Server", h.Cpu.QemuModels);

            File.Delete(Path.Combine(root, "dev/kvm"));
            Assert.Contains("/dev/kvm", LinuxHostFacts.Discover("hv-07", root).KvmProblem);
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    [Fact]
    public void This_machine_says_whether_kvm_is_usable()
    {
        var d = LinuxHostFacts.Discover("here");
        Assert.True(d.Host.Cpu.Threads >= 1 && d.Host.MemoryMiB > 0);
        var hardware = d.Host.Cpu.HasHardwareVirtualisation;
        Assert.Equal(!hardware || !File.Exists("/dev/kvm"), d.KvmProblem is not null);
    }
}
