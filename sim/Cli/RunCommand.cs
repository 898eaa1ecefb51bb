using System.CommandLine;
using KvmCluster.Policies.Rules;
using KvmCluster.Sim.Datacenter;
using KvmCluster.Sim.Engine;
using KvmCluster.Sim.Reports;
using KvmCluster.Sim.Traces;
using Spectre.Console;

namespace KvmCluster.Sim.Cli;

/// <summary>
/// <c>kvmsim run</c>: replay a trace on a datacenter under a policy and report energy, migrations and SLA
/// metrics (CloudSim's definitions). On a terminal it shows progress and a table; otherwise it prints the
/// summary as one JSON object, for scripts.
/// </summary>
public static class RunCommand
{
    public sealed record Options(string Trace, string Datacenter, string Policy, bool Compat, long Seed, bool ThroughCluster = false, int Silos = 2, bool LivePlanner = false);

    public static Option<string> TraceOption() => new("--trace") { Description = TraceSource.Help, Required = true };
    public static Option<string> DatacenterOption() => new("--datacenter") { Description = DatacenterSource.Help, DefaultValueFactory = _ => "cloudsim-planetlab" };
    public static Option<bool> CompatOption() => new("--cloudsim-compat") { Description = "Replicate CloudSim 4.0's model exactly (see README: simulator)" };
    public static Option<long> SeedOption() => new("--seed") { Description = "Seed for randomised policies (RS)", DefaultValueFactory = _ => 42 };

    public static Command Create()
    {
        var trace = TraceOption();
        var datacenter = DatacenterOption();
        var policy = new Option<string>("--policy") { Description = "npa, dvfs, an adaptive name (lr-mmt-1.2, …), evenly-distributed, power-saving, or a policy file", DefaultValueFactory = _ => "lr-mmt-1.2" };
        var compat = CompatOption();
        var seed = SeedOption();
        var json = new Option<string?>("--json") { Description = "Write the summary as JSON to this file" };
        var output = new Option<string?>("--out") { Description = "Write summary.json, timeseries.csv, plots (PNG, SVG) and report.html here" };
        var through = new Option<bool>("--through-cluster") { Description = "Take every decision from an in-process KvmCluster (host grains on simulated drivers sampling the datacenter, the scheduler grain); implies --live-planner" };
        var livePlanner = new Option<bool>("--live-planner") { Description = "Run the adaptive family as the cluster does: through the planner, the plan builder and the plan executor (default: CloudSim's optimiser on the datacenter)" };
        var silos = new Option<int>("--silos") { Description = "With --through-cluster: silos to spread the hosts over", DefaultValueFactory = _ => 2 };
        var decisions = new Option<string?>("--decisions") { Description = "Write every placement and plan, one per line, to this file (planner-family policies)" };
        var cmd = new Command("run", "Replay a workload trace under a policy and report energy, migrations and SLA violations");
        foreach (var o in new Option[] { trace, datacenter, policy, compat, seed, json, output, through, livePlanner, silos, decisions }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            var (result, log) = ExecuteWithDecisions(new Options(parse.GetValue(trace)!, parse.GetValue(datacenter)!, parse.GetValue(policy)!, parse.GetValue(compat), parse.GetValue(seed),
                parse.GetValue(through), parse.GetValue(silos), parse.GetValue(livePlanner)));
            if (parse.GetValue(decisions) is { } decisionFile) WriteFile(decisionFile, string.Concat(log.Select(l => l + "\n")));
            if (parse.GetValue(json) is { } file) WriteFile(file, SummaryJson.ToJson(result.Summary) + "\n");
            if (parse.GetValue(output) is { } dir) RunOutput.Write(result, dir);
            if (Console.IsOutputRedirected) Console.Out.WriteLine(SummaryJson.ToJson(result.Summary, indented: false));
            else AnsiConsole.Write(SummaryTable(result.Summary));
            return 0;
        });
        return cmd;
    }

    public static SimResult Execute(Options o, Action<double>? progress = null) => ExecuteWithDecisions(o, progress).Result;

    /// <summary>Runs the replay; also returns its decisions (placements and plans) in order.</summary>
    public static (SimResult Result, IReadOnlyList<string> Decisions) ExecuteWithDecisions(Options o, Action<double>? progress = null)
    {
        var spec = DatacenterSource.Load(o.Datacenter);
        var policy = ResolvePolicy(o.Policy);
        var trace = TraceSource.Load(o.Trace);
        var options = OptionsFor(trace, o.Compat) with { LivePlanner = o.LivePlanner || o.ThroughCluster };
        using var cluster = o.ThroughCluster ? ClusterReplay.For(o, policy, options) : null;
        Simulation Create(Action<double>? report) => new(spec, trace, policy, options, o.Seed, report, cluster is null ? null : cluster.Decisions);
        if (progress is null && !Console.IsOutputRedirected && !Console.IsErrorRedirected)
        {
            (SimResult, IReadOnlyList<string>)? outcome = null;
            AnsiConsole.Progress().AutoClear(true).Start(ctx =>
            {
                var task = ctx.AddTask($"{policy.Name} on {trace.Name}{(cluster is null ? "" : " (through the cluster)")}", maxValue: 1);
                var sim = Create(p => task.Value = p);
                outcome = (sim.Run(trace.Name), sim.Decisions);
                task.Value = 1;
            });
            return outcome!.Value;
        }
        var run = Create(progress);
        return (run.Run(trace.Name), run.Decisions);
    }

    public static SimOptions OptionsFor(Trace trace, bool compat)
    {
        var duration = trace.Duration;
        if (duration <= 0) throw new UsageException($"trace {trace.Name} has no samples to replay");
        return new SimOptions
        {
            CloudSimCompat = compat,
            Interval = trace.Interval,
            // CloudSim starts the workload 0.1 s after creating the VMs and stops at the last sample's interval.
            StartOffset = compat ? 0.1 : 0,
            Limit = duration,
        };
    }

    public static SimPolicy ResolvePolicy(string name) => name switch
    {
        "npa" => new SimPolicy("npa", SimPolicyKind.NonPowerAware, Policy.Default with { Name = "npa" }),
        "dvfs" => new SimPolicy("dvfs", SimPolicyKind.Dvfs, Policy.Default with { Name = "dvfs" }),
        _ => SimPolicy.For(name, PolicySource.Resolve(name)),
    };

    public static void WriteFile(string file, string text)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(file));
        if (dir is not null && !Directory.Exists(dir)) throw new UsageException($"cannot write {file}: directory {dir} does not exist");
        File.WriteAllText(file, text);
    }

    public static Table SummaryTable(SimSummary s)
    {
        var t = new Table().AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
        t.Title = new TableTitle($"{Markup.Escape(s.Policy)} on {Markup.Escape(s.Trace)}{(s.CloudSimCompat ? " (CloudSim-compatible)" : "")}");
        void Row(string k, string v) => t.AddRow(Markup.Escape(k), Markup.Escape(v));
        Row("energy", $"{HtmlReport.F(s.EnergyKWh, "0.00")} kWh");
        Row("migrations", s.Migrations.ToString());
        Row("SLATAH", HtmlReport.P(s.Slatah));
        Row("PDM", HtmlReport.P(s.Pdm));
        Row("SLAV", HtmlReport.P(s.Slav));
        Row("ESV", HtmlReport.F(s.Esv, "0.#######"));
        Row("overall SLA violation", HtmlReport.P(s.OverallSlaViolation));
        Row("host shutdowns", s.HostShutdowns.ToString());
        Row("hosts / VMs", $"{s.Hosts} / {s.Vms}");
        if (s.RejectedVms > 0) Row("VMs rejected (no room)", s.RejectedVms.ToString());
        if (s.FailedMigrations > 0) Row("migrations cancelled", s.FailedMigrations.ToString());
        Row("wall time", $"{HtmlReport.F(s.WallSeconds, "0.###")} s");
        return t;
    }
}
