using System.CommandLine;
using System.Text.Json;
using KvmCluster.Sim.Cli;

namespace KvmCluster.Sim.Bench;

/// <summary><c>kvmsim bench place …</c>: throughput benchmarks of the placement core. Run them in Release.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var hosts = new Option<int>("--hosts") { Description = "Hosts in the synthetic fleet", DefaultValueFactory = _ => 10_000 };
        var guests = new Option<int>("--guests") { Description = "Guests to place", DefaultValueFactory = _ => 100_000 };
        var seed = new Option<int>("--seed") { Description = "Seed of the synthetic fleet", DefaultValueFactory = _ => 1 };
        var policy = new Option<string?>("--policy") { Description = "Built-in policy name or policy document" };
        var explain = new Option<bool>("--explain") { Description = "Collect every rejection reason (the operator-facing mode)" };
        var json = new Option<string?>("--json") { Description = "Write the result as JSON to this file" };
        var place = new Command("place", "Place guests one by one onto a synthetic fleet and report placements per second");
        foreach (var o in new Option[] { hosts, guests, seed, policy, explain, json }) place.Options.Add(o);
        place.SetAction(parse =>
        {
            var h = parse.GetValue(hosts);
            var g = parse.GetValue(guests);
            if (h < 1 || g < 1) throw new UsageException("--hosts and --guests must be at least 1");
            var result = PlaceBenchmark.Run(h, g, parse.GetValue(seed), PolicySource.Resolve(parse.GetValue(policy)), parse.GetValue(explain));
            var text = JsonSerializer.Serialize(result, BenchJson.Default.PlaceBenchResult);
            if (parse.GetValue(json) is { } file) File.WriteAllText(file, text + Environment.NewLine);
            Console.WriteLine(text);
            return 0;
        });
        var cmd = new Command("bench", "Benchmarks (run with -c Release)");
        cmd.Subcommands.Add(place);
        cmd.Subcommands.Add(Plan());
        return cmd;
    }

    private static Command Plan()
    {
        var hosts = new Option<int>("--hosts") { Description = "Hosts in the synthetic fleet", DefaultValueFactory = _ => 10_000 };
        var guests = new Option<int>("--guests") { Description = "Guests placed before planning", DefaultValueFactory = _ => 200_000 };
        var seed = new Option<int>("--seed") { Description = "Seed of the synthetic fleet and usage", DefaultValueFactory = _ => 1 };
        var policy = new Option<string>("--policy") { Description = "Built-in policy name or policy document", Required = true };
        var rounds = new Option<int>("--rounds") { Description = "Planning rounds (the median is reported)", DefaultValueFactory = _ => 5 };
        var json = new Option<string?>("--json") { Description = "Write the result as JSON to this file" };
        var plan = new Command("plan", "Plan rebalancing rounds over a synthetic fleet and report the median time per round");
        foreach (var o in new Option[] { hosts, guests, seed, policy, rounds, json }) plan.Options.Add(o);
        plan.SetAction(parse =>
        {
            var h = parse.GetValue(hosts);
            var g = parse.GetValue(guests);
            var r = parse.GetValue(rounds);
            if (h < 1 || g < 1 || r < 1) throw new UsageException("--hosts, --guests and --rounds must be at least 1");
            var result = PlanBenchmark.Run(h, g, parse.GetValue(seed), PolicySource.Resolve(parse.GetValue(policy)), r);
            var text = JsonSerializer.Serialize(result, BenchJson.Default.PlanBenchResult);
            if (parse.GetValue(json) is { } file) File.WriteAllText(file, text + Environment.NewLine);
            Console.WriteLine(text);
            return 0;
        });
        return plan;
    }
}
