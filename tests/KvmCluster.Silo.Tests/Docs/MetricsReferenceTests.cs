using System.Diagnostics.Metrics;
using System.Text;
using KvmCluster.Grains.Telemetry;

namespace KvmCluster.Silo.Tests.Docs;

/// <summary>The API guide's metric table is made from the instruments themselves (<see cref="KvmMeters"/>), the one list of them.</summary>
public sealed class MetricsReferenceTests
{
    [Fact]
    public void The_metric_table_in_the_operator_guide_is_the_one_the_instruments_make()
    {
        var b = new StringBuilder("| metric (Prometheus) | kind | unit | meaning |\n|---|---|---|---|\n");
        foreach (var field in typeof(KvmMeters).GetFields().Where(f => typeof(Instrument).IsAssignableFrom(f.FieldType)))
        {
            var i = (Instrument)field.GetValue(null)!;
            var kind = i.GetType().Name.Split('`')[0].ToLowerInvariant();
            // OpenTelemetry's Prometheus names: dots become underscores, then the unit, then _total for counters.
            var name = i.Name.Replace('.', '_') + (i.Unit == "s" ? "_seconds" : "") + (kind == "counter" ? "_total" : "");
            b.Append($"| `{name}` | {kind} | {i.Unit} | {i.Description} |\n");
        }
        GeneratedDocs.Check("docs/api.md", b.ToString());
    }
}
