using System.CommandLine;
using KvmCluster.Policies.Documents;
using KvmCluster.Sim.Bench;
using KvmCluster.Sim.Cli;

// kvmsim: the offline shell around the placement core — check policies, place guests on a fleet file,
// benchmark, and (later) replay traces. Exit codes: 0 ok, 1 failure, 2 usage or input error.
var root = new RootCommand("kvmsim — offline KvmCluster tools: policy checks, placement on a fleet file, benchmarks");
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
