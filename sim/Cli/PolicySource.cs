using KvmCluster.Policies.Documents;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Sim.Cli;

/// <summary>Turns a --policy argument (a built-in name or a YAML/JSON file) and a --fleet argument into documents.</summary>
public static class PolicySource
{
    public static Policy Resolve(string? nameOrFile)
    {
        if (string.IsNullOrEmpty(nameOrFile)) return Policy.Default;
        if (BuiltInPolicies.TryGet(nameOrFile, out var builtIn)) return builtIn;
        if (!File.Exists(nameOrFile))
            throw new UsageException($"policy '{nameOrFile}' is neither a built-in name ({string.Join(", ", BuiltInPolicies.Names)}, or detector-selection-parameter such as lr-mmt-1.2) nor a file");
        return PolicyDocument.Parse(File.ReadAllText(nameOrFile), nameOrFile);
    }

    /// <summary>The fleet in a file, or the sample fleet built into kvmsim when no file is given.</summary>
    public static FleetSnapshot Fleet(string? file)
    {
        if (file is null)
        {
            using var stream = typeof(PolicySource).Assembly.GetManifestResourceStream("sample-fleet.yaml")
                ?? throw new InvalidOperationException("the built-in sample fleet is missing from this build");
            return FleetDocument.Parse(new StreamReader(stream).ReadToEnd(), "(built-in sample fleet)");
        }
        if (!File.Exists(file)) throw new UsageException($"fleet file '{file}' does not exist");
        return FleetDocument.Parse(File.ReadAllText(file), file);
    }
}
