using System.CommandLine;
using System.Globalization;
using KvmCluster.Sim.Datacenter;
using KvmCluster.Sim.Engine;
using KvmCluster.Sim.Reports;
using KvmCluster.Sim.Traces;
using MathNet.Numerics.Statistics;

namespace KvmCluster.Sim.Cli;

/// <summary>
/// <c>kvmsim compare</c>: every policy on every trace (day), then a table of medians per policy — how
/// Beloglazov and Buyya report their results. <c>planetlab:DIR</c> whose entries are directories means one trace
/// per day directory. Runs go in parallel, one per core; each is deterministic, so the table does not depend
/// on the order they finish in.
/// </summary>
public static class CompareCommand
{
    public const string DefaultPolicies = "npa,dvfs,thr-mmt-0.8,iqr-mmt-1.5,mad-mmt-2.5,lr-mmt-1.2,lr-mc-1.2";

    public static Command Create()
    {
        var traces = new Option<string[]>("--trace") { Description = TraceSource.Help + " (repeat for several; planetlab:DIR of day directories means every day)", Required = true, AllowMultipleArgumentsPerToken = true };
        var policies = new Option<string[]>("--policy") { Description = "Policies to compare (repeat, or comma-separated)", DefaultValueFactory = _ => [DefaultPolicies], AllowMultipleArgumentsPerToken = true };
        var datacenter = RunCommand.DatacenterOption();
        var compat = RunCommand.CompatOption();
        var seed = RunCommand.SeedOption();
        var json = new Option<string?>("--json") { Description = "Write every run and the medians as JSON to this file" };
        var output = new Option<string?>("--out") { Description = "Write each run's outputs (DIR/TRACE/POLICY/) and compare.html with the comparison plots" };
        var parallel = new Option<int>("--parallel") { Description = "Runs at once", DefaultValueFactory = _ => Environment.ProcessorCount };
        var cmd = new Command("compare", "Run several policies over several traces and print the medians per policy");
        foreach (var o in new Option[] { traces, policies, datacenter, compat, seed, json, output, parallel }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            var names = parse.GetValue(policies)!.SelectMany(p => p.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct().ToList();
            var degree = parse.GetValue(parallel);
            if (degree < 1) throw new UsageException("--parallel must be at least 1");
            var simPolicies = names.Select(RunCommand.ResolvePolicy).ToList();
            var spec = DatacenterSource.Load(parse.GetValue(datacenter)!);
            var loaded = parse.GetValue(traces)!.SelectMany(Expand).Select(TraceSource.Load).ToList();
            var isCompat = parse.GetValue(compat);
            var runs = Run(spec, loaded, simPolicies, isCompat, parse.GetValue(seed), degree);
            var medians = Medians(runs, simPolicies.Select(p => p.Name).ToList());

            Console.Out.Write(Text(medians, loaded.Count));
            if (parse.GetValue(json) is { } file) RunCommand.WriteFile(file, CompareReport.Json(runs.Select(r => r.Summary).ToList(), medians));
            if (parse.GetValue(output) is { } dir) CompareReport.Write(dir, runs, medians);
            return 0;
        });
        return cmd;
    }

    /// <summary>planetlab:DIR holding only directories → one trace per sub-directory, in ordinal order.</summary>
    private static IEnumerable<string> Expand(string spec)
    {
        if (!spec.StartsWith("planetlab:", StringComparison.Ordinal)) return [spec];
        var dir = spec["planetlab:".Length..];
        if (!Directory.Exists(dir)) return [spec];
        var subdirs = Directory.GetDirectories(dir).OrderBy(d => d, StringComparer.Ordinal).ToList();
        return subdirs.Count > 0 && Directory.GetFiles(dir).Length == 0 ? subdirs.Select(d => "planetlab:" + d) : [spec];
    }

    private static List<SimResult> Run(DatacenterSpec spec, List<Trace> traces, List<SimPolicy> policies, bool compat, long seed, int degree)
    {
        var jobs = traces.SelectMany(t => policies.Select(p => (Trace: t, Policy: p))).ToList();
        var results = new SimResult[jobs.Count];
        Parallel.For(0, jobs.Count, new ParallelOptions { MaxDegreeOfParallelism = degree }, i =>
        {
            var (trace, policy) = jobs[i];
            results[i] = new Simulation(spec, trace, policy, RunCommand.OptionsFor(trace, compat), seed).Run(trace.Name);
            if (!Console.IsErrorRedirected) Console.Error.WriteLine($"  done: {policy.Name} on {trace.Name} ({results[i].Summary.WallSeconds:0.00} s)");
        });
        return [.. results];
    }

    public sealed record PolicyMedians(string Policy, int Runs, double EnergyKWh, double Migrations, double Slatah, double Pdm, double Slav, double Esv);

    public static List<PolicyMedians> Medians(IReadOnlyList<SimResult> runs, IReadOnlyList<string> order)
    {
        var byPolicy = runs.GroupBy(r => r.Summary.Policy).ToDictionary(g => g.Key, g => g.Select(r => r.Summary).ToList());
        return order.Where(byPolicy.ContainsKey).Select(p =>
        {
            var s = byPolicy[p];
            double M(Func<SimSummary, double> f) => s.Select(f).Median();
            return new PolicyMedians(p, s.Count, M(x => x.EnergyKWh), M(x => x.Migrations), M(x => x.Slatah), M(x => x.Pdm), M(x => x.Slav), M(x => x.Esv));
        }).ToList();
    }

    public static string Text(IReadOnlyList<PolicyMedians> medians, int traces)
    {
        var c = CultureInfo.InvariantCulture;
        var rows = new List<string[]> { new[] { "policy", "runs", "energy_kwh", "migrations", "slatah_pct", "pdm_pct", "slav_pct", "esv" } };
        rows.AddRange(medians.Select(m => new[]
        {
            m.Policy, m.Runs.ToString(c), m.EnergyKWh.ToString("0.00", c), m.Migrations.ToString("0.#", c),
            (m.Slatah * 100).ToString("0.00", c), (m.Pdm * 100).ToString("0.0000", c), (m.Slav * 100).ToString("0.00000", c), m.Esv.ToString("0.0000000", c),
        }));
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        var lines = rows.Select(r => string.Join("  ", r.Select((cell, i) => i == 0 ? cell.PadRight(widths[i]) : cell.PadLeft(widths[i]))));
        return $"medians over {traces} trace(s)\n" + string.Join("\n", lines) + "\n";
    }
}
