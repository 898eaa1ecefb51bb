using System.Collections.Immutable;
using System.Globalization;
using KvmCluster.Policies.Model;
using Host = KvmCluster.Policies.Model.Host;

namespace KvmCluster.Hosting.Facts;

/// <summary>What discovery found besides the host record: things an operator should know, and why KVM is unusable.</summary>
public sealed record HostDiscovery(Host Host, string? KvmProblem, string TransparentHugepages, IReadOnlyList<string> Notes);

/// <summary>
/// A Linux hypervisor's facts, read from the kernel's own files: /proc/cpuinfo (model, flags such as nx, vmx/svm,
/// pdpe1gb, lm), /proc/meminfo, /sys/kernel/mm/hugepages (one pool per page size), /sys/kernel/mm/ksm,
/// transparent hugepages, the kvm_intel/kvm_amd nested parameter and /dev/kvm. The root is a parameter so tests can
/// point it at a fixture tree.
/// </summary>
public static class LinuxHostFacts
{
    public static HostDiscovery Discover(string name, string root = "/", IReadOnlyCollection<string>? qemuCpuModels = null)
    {
        var notes = new List<string>();
        var cpuinfo = Read(root, "proc/cpuinfo") ?? throw new InvalidOperationException($"{Path.Combine(root, "proc/cpuinfo")} is not readable: not a Linux host");
        var processors = cpuinfo.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(block => block.Split('\n').Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
                .GroupBy(p => p[0].Trim()).ToDictionary(g => g.Key, g => g.First()[1].Trim()))
            .Where(p => p.ContainsKey("processor")).ToList();
        if (processors.Count == 0) throw new InvalidOperationException("/proc/cpuinfo lists no processors");
        var first = processors[0];
        var flags = ImmutableSortedSet.CreateRange(StringComparer.Ordinal, first.GetValueOrDefault("flags", "").Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var sockets = Math.Max(1, processors.Select(p => p.GetValueOrDefault("physical id", "0")).Distinct().Count());
        var coresPerSocket = int.TryParse(first.GetValueOrDefault("cpu cores"), out var c) ? c : processors.Count / sockets;
        var mhz = double.TryParse(first.GetValueOrDefault("cpu MHz"), NumberStyles.Float, CultureInfo.InvariantCulture, out var m) ? m : 1000;

        var memKiB = Read(root, "proc/meminfo")?.Split('\n').FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) is { } line
            ? long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) : 0;

        var pools = new List<HugepagePool>();
        var hugeDir = Path.Combine(root, "sys/kernel/mm/hugepages");
        if (Directory.Exists(hugeDir))
            foreach (var dir in Directory.GetDirectories(hugeDir, "hugepages-*kB").Order(StringComparer.Ordinal))
            {
                var size = int.Parse(Path.GetFileName(dir)["hugepages-".Length..^"kB".Length], CultureInfo.InvariantCulture);
                int Num(string f) => int.TryParse(Read(dir, f)?.Trim(), out var v) ? v : 0;
                pools.Add(new HugepagePool(size, Num("nr_hugepages"), Num("free_hugepages"), Num("resv_hugepages")));
            }

        var ksmRun = Read(root, "sys/kernel/mm/ksm/run")?.Trim() == "1";
        var sharing = long.TryParse(Read(root, "sys/kernel/mm/ksm/pages_sharing")?.Trim(), out var s) ? s : 0;
        var thp = Selected(Read(root, "sys/kernel/mm/transparent_hugepage/enabled"));
        var defrag = Selected(Read(root, "sys/kernel/mm/transparent_hugepage/defrag"));
        var vendor = first.GetValueOrDefault("vendor_id", "unknown");
        var module = vendor == "AuthenticAMD" ? "kvm_amd" : "kvm_intel";
        var nested = Read(root, $"sys/module/{module}/parameters/nested")?.Trim() is "Y" or "1";

        string? kvmProblem = null;
        if (!flags.Contains("vmx") && !flags.Contains("svm")) kvmProblem = "the CPU shows no vmx/svm flag (no hardware virtualisation, or it is disabled): KVM is unusable, QEMU would run guests with TCG";
        else if (!File.Exists(Path.Combine(root, "dev/kvm"))) kvmProblem = "/dev/kvm is missing: load kvm_intel or kvm_amd";
        if (!flags.Contains("nx")) notes.Add("the CPU has no nx flag: guests that require NX cannot run here");
        if (thp == "always") notes.Add("transparent hugepages are 'always': guest memory may be backed by THP (fine for most, unpredictable for latency-sensitive guests)");

        var host = new Host
        {
            Name = name,
            Cpu = new HostCpu
            {
                Vendor = vendor,
                ModelName = first.GetValueOrDefault("model name", "unknown"),
                Flags = flags,
                QemuModels = ImmutableSortedSet.CreateRange(StringComparer.Ordinal, qemuCpuModels ?? []),
                NestedEnabled = nested,
                Sockets = sockets,
                Cores = sockets * coresPerSocket,
                Threads = processors.Count,
                MhzPerThread = Math.Round(mhz),
            },
            MemoryMiB = memKiB / 1024,
            Hugepages = [.. pools],
            Ksm = new KsmState(ksmRun, sharing),
            TransparentHugepages = new ThpState(thp, defrag),
        };
        return new HostDiscovery(host, kvmProblem, thp, notes);
    }

    /// <summary>The kernel's choice among the values it lists: "always [madvise] never" → madvise.</summary>
    private static string Selected(string? text) =>
        text is { } t && t.IndexOf('[') is var i and >= 0 && t.IndexOf(']', i) is var j and > 0 ? t[(i + 1)..j] : "unknown";

    private static string? Read(string dir, string file)
    {
        try { return File.ReadAllText(Path.Combine(dir, file)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
