using System.CommandLine;
using KvmCluster.Policies.Documents;

namespace KvmCluster.Sim.Cli;

/// <summary><c>kvmsim policy check FILE</c>: errors with file:line:column and exit 2, or the normalised policy.</summary>
public static class PolicyCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "Policy document (YAML or JSON)" };
        var check = new Command("check", "Validate a policy document and print it normalised (every field, defaults filled in)");
        check.Arguments.Add(file);
        check.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            if (!File.Exists(path)) throw new UsageException($"policy file '{path}' does not exist");
            var policy = PolicyDocument.Parse(File.ReadAllText(path), path);
            Console.Out.Write(PolicyWriter.ToYaml(policy));
            return 0;
        });
        var cmd = new Command("policy", "Work with policy documents");
        cmd.Subcommands.Add(check);
        return cmd;
    }
}
