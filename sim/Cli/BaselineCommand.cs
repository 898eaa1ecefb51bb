using System.CommandLine;
using KvmCluster.Policies.Classes;
using KvmCluster.Policies.Placement;
using Spectre.Console;

namespace KvmCluster.Sim.Cli;

/// <summary>
/// <c>kvmsim baseline</c>: the EVC-like CPU baseline of the fleet and, for every guest, how many hosts it can
/// ever run on or migrate to — the guests outside the baseline are the ones that strand on few hosts.
/// </summary>
public static class BaselineCommand
{
    public static Command Create()
    {
        var fleet = new Option<string?>("--fleet") { Description = "Fleet document; default: the built-in sample fleet" };
        var policy = new Option<string?>("--policy") { Description = "Built-in policy name or policy document" };
        var cmd = new Command("baseline", "Show the cluster CPU baseline and each guest's reach");
        cmd.Options.Add(fleet);
        cmd.Options.Add(policy);
        cmd.SetAction(parse =>
        {
            var snapshot = PolicySource.Fleet(parse.GetValue(fleet));
            var engine = new PlacementEngine(snapshot, PolicySource.Resolve(parse.GetValue(policy)));
            var baseline = CpuBaseline.Of(snapshot.Hosts);
            var c = AnsiConsole.Console;
            c.MarkupLine($"Baseline of {baseline.Hosts} hosts ({Markup.Escape(baseline.Vendor ?? "mixed vendors")}):");
            c.MarkupLine($"  models: {Markup.Escape(string.Join(", ", baseline.Models))}");
            c.MarkupLine($"  flags:  {Markup.Escape(string.Join(", ", baseline.Flags))}");
            var table = new Table().AddColumns("Guest", "CPU", "Reach (hosts)", "Outside baseline because");
            foreach (var g in snapshot.Guests)
            {
                var reach = engine.Reach(g);
                table.AddRow(Markup.Escape(g.Name), Markup.Escape(g.Cpu.ToString()), reach.Count.ToString(), Markup.Escape(baseline.Problem(g.Cpu) ?? "-"));
            }
            c.Write(table);
            return 0;
        });
        return cmd;
    }
}
