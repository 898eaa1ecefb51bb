using KvmCluster.Sim.Cli;
using KvmCluster.Sim.Traces;

namespace KvmCluster.Sim.Datacenter;

/// <summary>The <c>--datacenter</c> argument: a preset (<c>cloudsim-planetlab[:hosts=N]</c>) or a datacenter document.</summary>
public static class DatacenterSource
{
    public const string Help = "cloudsim-planetlab[:hosts=N] | FILE.yaml";

    public static DatacenterSpec Load(string spec)
    {
        if (spec == "cloudsim-planetlab") return DatacenterSpec.CloudSimPlanetLab();
        if (spec.StartsWith("cloudsim-planetlab:", StringComparison.Ordinal))
        {
            var values = TraceSource.Parameters(spec, spec["cloudsim-planetlab:".Length..], ["hosts"]);
            var hosts = values.TryGetValue("hosts", out var h) ? TraceSource.Int(spec, "hosts", h, 1, 1_000_000) : 800;
            return DatacenterSpec.CloudSimPlanetLab(hosts);
        }
        if (!File.Exists(spec) && !spec.Contains('/') && !spec.Contains('.'))
            throw new UsageException($"--datacenter '{spec}' is neither a preset nor a file; expected {Help}");
        return DatacenterDocument.Load(spec);
    }
}
