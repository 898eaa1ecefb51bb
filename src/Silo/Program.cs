using System.CommandLine;
using KvmCluster.Hosting;
using KvmCluster.Silo;
using KvmCluster.Silo.Cli;

// kvmcluster: the silo (default verb) and the operator CLI, which talks to any silo's REST API.
// Exit codes: 0 ok, 1 the cluster refused or failed, 2 usage error.
var root = new RootCommand("kvmcluster — a KVM fleet scheduler on Orleans: run a silo on each hypervisor, manage the fleet through any silo");
var silo = SiloCommand.Create();
root.Subcommands.Add(silo);
foreach (var c in ClusterCommands.Create()) root.Subcommands.Add(c);
root.Subcommands.Add(FactsCommand.Create());
root.Subcommands.Add(KvmCluster.Silo.Cli.CertsCommand.Create());
root.Subcommands.Add(KvmCluster.Bench.ClusterBenchCommand.Create());
root.Options.Add(ClusterCommands.Api);
root.Options.Add(ClusterCommands.Token);
root.Options.Add(ClusterCommands.Json);
root.Options.Add(ClusterCommands.Timeout);

// No verb, or only silo flags: run the silo.
if (args.Length == 0 || args[0].StartsWith("--", StringComparison.Ordinal) && args[0] is not ("--help" or "--version")) args = ["silo", .. args];
var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var e in parse.Errors) Console.Error.WriteLine($"kvmcluster: {e.Message}");
    Console.Error.WriteLine("Try 'kvmcluster --help'.");
    return 2;
}
try
{
    return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (UsageException e)
{
    Console.Error.WriteLine($"kvmcluster: {e.Message}");
    return 2;
}
catch (ApiProblem e)
{
    Console.Error.WriteLine($"kvmcluster: {e.Message}");
    return e.Status is 400 or 401 or 404 ? 2 : 1;
}
