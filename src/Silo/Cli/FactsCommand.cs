using System.CommandLine;
using System.Text.Json;
using KvmCluster.Grains.Serialization;
using KvmCluster.Hosting.Facts;
using Spectre.Console;

namespace KvmCluster.Silo.Cli;

/// <summary>`kvmcluster facts`: what this machine would report as a hypervisor (no silo needed).</summary>
public static class FactsCommand
{
    public static Command Create()
    {
        var cmd = new Command("facts", "Show this machine's hypervisor facts: CPU model and flags, memory, hugepage pools, KSM, THP, nested virtualisation, KVM");
        cmd.SetAction(parse =>
        {
            var d = LinuxHostFacts.Discover(Environment.MachineName.ToLowerInvariant());
            if (parse.GetValue(ClusterCommands.Json))
            {
                Console.WriteLine(JsonSerializer.Serialize(d, new JsonSerializerOptions(PolicyTypesSerialization.Options) { WriteIndented = true }));
                return 0;
            }
            var h = d.Host;
            var t = new Table().AddColumns("Fact", "Value");
            t.AddRow("CPU", Markup.Escape($"{h.Cpu.ModelName} ({h.Cpu.Vendor}), {h.Cpu.Sockets} socket(s), {h.Cpu.Cores} cores, {h.Cpu.Threads} threads, {h.Cpu.MhzPerThread} MHz"));
            t.AddRow("Key flags", Markup.Escape(string.Join(' ', new[] { "nx", "lm", "vmx", "svm", "pdpe1gb", "avx2", "avx512f" }.Where(h.Cpu.HasFlag))));
            t.AddRow("Memory", $"{h.MemoryMiB} MiB");
            foreach (var p in h.Hugepages) t.AddRow($"Hugepages {Policies.Model.HugepagePool.DescribeSize(p.PageSizeKiB)}", $"{p.Total} total, {p.Free} free, {p.Reserved} reserved");
            t.AddRow("KSM", h.Ksm.Enabled ? $"on, {h.Ksm.PagesSharing} pages sharing" : "off");
            t.AddRow("Transparent hugepages", Markup.Escape(d.TransparentHugepages));
            t.AddRow("Nested virtualisation", h.Cpu.NestedEnabled ? "enabled" : "disabled");
            t.AddRow("KVM", d.KvmProblem is null ? "[green]usable[/]" : "[red]" + Markup.Escape(d.KvmProblem) + "[/]");
            AnsiConsole.Write(t);
            foreach (var n in d.Notes) AnsiConsole.MarkupLine("note: " + Markup.Escape(n));
            return 0;
        });
        return cmd;
    }
}
