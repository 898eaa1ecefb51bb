using System.CommandLine;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using Spectre.Console;

namespace KvmCluster.Sim.Cli;

/// <summary>
/// <c>kvmsim place</c>: places the fleet's waiting guests one by one (each reservation counts for the next),
/// and says why every other host was rejected.
/// </summary>
public static class PlaceCommand
{
    public static Command Create()
    {
        var fleet = new Option<string?>("--fleet") { Description = "Fleet document (YAML/JSON); default: the built-in sample fleet" };
        var policy = new Option<string?>("--policy") { Description = "Built-in policy name or policy document; default: default" };
        var guest = new Option<string?>("--guest") { Description = "Place only this guest (it may already run somewhere: then it is a migration)" };
        var explain = new Option<bool>("--explain") { Description = "List every rejected host with every reason" };
        var cmd = new Command("place", "Place waiting guests on a fleet and explain the decisions");
        cmd.Options.Add(fleet);
        cmd.Options.Add(policy);
        cmd.Options.Add(guest);
        cmd.Options.Add(explain);
        cmd.SetAction(parse => Run(parse.GetValue(fleet), parse.GetValue(policy), parse.GetValue(guest), parse.GetValue(explain)));
        return cmd;
    }

    private static int Run(string? fleetFile, string? policyArg, string? only, bool explain)
    {
        var snapshot = PolicySource.Fleet(fleetFile);
        var policy = PolicySource.Resolve(policyArg);
        var engine = new PlacementEngine(snapshot, policy);
        IEnumerable<Guest> todo = snapshot.Guests.Where(g => g.Host is null);
        if (only is not null)
            todo = [snapshot.FindGuest(only) ?? throw new UsageException($"guest '{only}' is not in the fleet")];

        var console = AnsiConsole.Console;
        console.MarkupLine($"Fleet: [bold]{snapshot.Hosts.Length}[/] hosts in [bold]{engine.State.Classes.All.Count}[/] classes, " +
                           $"{snapshot.Guests.Length} guests. Policy: [bold]{Markup.Escape(policy.Name)}[/].");
        var table = new Table().AddColumns("Guest", "Needs", "Host", "Score", "Feasible", "Rejected because");
        var results = new List<PlacementResult>();
        var now = DateTimeOffset.UnixEpoch; // reservations only need to outlive this command
        foreach (var g in todo)
        {
            var (result, _) = engine.PlaceAndReserve(g, now, TimeSpan.FromHours(1));
            results.Add(result);
            var why = result.Rejected.SelectMany(r => r.Reasons).GroupBy(r => r.ConstraintId)
                .OrderByDescending(x => x.Count()).Select(x => $"{x.Key} ×{x.Count()}");
            table.AddRow(Markup.Escape(g.Name), Markup.Escape(Needs(g)),
                result.Host is { } h ? $"[green]{Markup.Escape(h)}[/]" : "[red]none[/]",
                result.Placed ? result.Score.ToString("0.000") : "-", result.Feasible.ToString(), Markup.Escape(string.Join(", ", why)));
        }
        console.Write(table);
        if (explain)
        {
            foreach (var r in results)
            {
                console.MarkupLine($"\n[bold]{Markup.Escape(r.ToString())}[/]");
                foreach (var rej in r.Rejected)
                    foreach (var reason in rej.Reasons)
                        console.MarkupLine($"  {Markup.Escape(rej.Host)}: [yellow]{Markup.Escape(reason.ConstraintId)}[/]: {Markup.Escape(reason.Message)}");
            }
        }
        console.MarkupLine($"{results.Count(r => r.Placed)} of {results.Count} guest(s) placed; run with --explain for every rejected host and reason.");
        return 0;
    }

    private static string Needs(Guest g)
    {
        var parts = new List<string> { $"{g.VCpus} vCPU", $"{g.MemoryMiB} MiB", $"cpu {g.Cpu}" };
        if (g.HugepageSizeKiB is { } s) parts.Add($"{g.HugepageCount}×{HugepagePool.DescribeSize(s)} pages");
        if (g.HasPassthrough) parts.Add("pci " + string.Join(",", g.PciDevices));
        if (g.SriovVfs > 0) parts.Add($"{g.SriovVfs} VF");
        return string.Join(", ", parts);
    }
}
