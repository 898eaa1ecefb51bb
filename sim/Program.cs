using System.CommandLine;
using KvmCluster.Policies.Documents;
using KvmCluster.Sim.Bench;
using KvmCluster.Sim.Cli;
using KvmCluster.Sim.Traces;

// kvmsim: the offline shell around the placement core — check policies, place guests on a fleet file, plan,
// replay workload traces, compare policies, benchmark. Exit codes: 0 ok, 1 failure, 2 usage or input error.
var root = new RootCommand("kvmsim — offline KvmCluster tools: trace replay, policy comparison, placement and plans on a fleet file, benchmarks");
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(CompareCommand.Create());
root.Subcommands.Add(PolicyCommand.Create());
root.Subcommands.Add(PlaceCommand.Create());
root.Subcommands.Add(BaselineCommand.Create());
root.Subcommands.Add(PlanCommand.Create());
root.Subcommands.Add(BenchCommand.Create());

var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var e in parse.Errors) Console.Error.WriteLine($"kvmsim: {e.Message}");
    Console.Error.WriteLine("Try 'kvmsim --help'.");
    return 2;
}
try
{
    return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (DocumentException e)
{
    foreach (var err in e.Errors) Console.Error.WriteLine(err);
    return 2;
}
catch (TraceException e)
{
    Console.Error.WriteLine($"kvmsim: {e.Message}");
    return 2;
}
catch (UsageException e)
{
    Console.Error.WriteLine($"kvmsim: {e.Message}");
    return 2;
}
catch (IOException e)
{
    Console.Error.WriteLine($"kvmsim: {e.Message}");
    return 2;
}
catch (UnauthorizedAccessException e)
{
    Console.Error.WriteLine($"kvmsim: {e.Message}");
    return 2;
}
