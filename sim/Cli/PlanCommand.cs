using System.CommandLine;
using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Planning;

namespace KvmCluster.Sim.Cli;

/// <summary>
/// <c>kvmsim plan</c>: one rebalancing round on a fleet document, printed as the plan an operator would approve —
/// ordered waves of migrations and power actions with reasons and predicted cost, and what was refused.
/// </summary>
public static class PlanCommand
{
    public static Command Create()
    {
        var fleet = new Option<string?>("--fleet") { Description = "Fleet document; default: the built-in sample fleet" };
        var policy = new Option<string?>("--policy") { Description = "Built-in policy name or policy document; default: default" };
        var link = new Option<string>("--link") { Description = "Migration network for cost predictions: 10gbe or tcg-loopback", DefaultValueFactory = _ => "10gbe" };
        var cmd = new Command("plan", "Plan one rebalancing round (dry run) and print it");
        cmd.Options.Add(fleet);
        cmd.Options.Add(policy);
        cmd.Options.Add(link);
        cmd.SetAction(parse =>
        {
            var snapshot = PolicySource.Fleet(parse.GetValue(fleet));
            var p = PolicySource.Resolve(parse.GetValue(policy));
            var l = parse.GetValue(link) switch
            {
                "10gbe" => MigrationLink.TenGigabit,
                "tcg-loopback" => MigrationLink.TcgLoopback,
                var other => throw new UsageException($"--link '{other}' is not one of: 10gbe, tcg-loopback"),
            };
            // The plan's clock: a fixed instant, so the same inputs print the same plan (and plan id).
            var plan = Rebalancer.Plan(snapshot, p, new PlanningContext { Now = DateTimeOffset.UnixEpoch, Link = l });
            Console.Out.Write(plan.ToText());
            return 0;
        });
        return cmd;
    }
}
