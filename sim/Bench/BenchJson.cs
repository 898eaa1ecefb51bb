using System.Text.Json.Serialization;

namespace KvmCluster.Sim.Bench;

/// <summary>Source-generated JSON for the benchmark results (no reflection: works in the NativeAOT build).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(PlaceBenchResult))]
[JsonSerializable(typeof(PlanBenchResult))]
internal sealed partial class BenchJson : JsonSerializerContext;
