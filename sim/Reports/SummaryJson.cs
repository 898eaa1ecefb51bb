using System.Text;
using System.Text.Json;
using KvmCluster.Sim.Engine;

namespace KvmCluster.Sim.Reports;

/// <summary>
/// The run summary as JSON: the fields CloudSim's Helper prints (energyKWh, migrations, slatah, pdm, slav, esv,
/// overallSlaViolation, hostShutdowns) plus what identifies the run. Written with Utf8JsonWriter, in a fixed
/// field order, so the same run always gives the same bytes (apart from wallSeconds).
/// </summary>
public static class SummaryJson
{
    public static string ToJson(SimSummary s, bool indented = true)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented }))
        {
            Write(w, s);
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public static void Write(Utf8JsonWriter w, SimSummary s)
    {
        w.WriteStartObject();
        w.WriteNumber("energyKWh", s.EnergyKWh);
        w.WriteNumber("migrations", s.Migrations);
        w.WriteNumber("slatah", s.Slatah);
        w.WriteNumber("pdm", s.Pdm);
        w.WriteNumber("slav", s.Slav);
        w.WriteNumber("esv", s.Esv);
        w.WriteNumber("overallSlaViolation", s.OverallSlaViolation);
        w.WriteNumber("averageSlaViolation", s.AverageSlaViolation);
        w.WriteNumber("hostShutdowns", s.HostShutdowns);
        w.WriteNumber("hosts", s.Hosts);
        w.WriteNumber("vms", s.Vms);
        w.WriteNumber("rejectedVms", s.RejectedVms);
        w.WriteNumber("failedMigrations", s.FailedMigrations);
        w.WriteNumber("hostBoots", s.HostBoots);
        w.WriteNumber("simulatedSeconds", s.SimulatedSeconds);
        w.WriteNumber("wallSeconds", Math.Round(s.WallSeconds, 4));
        w.WriteString("policy", s.Policy);
        w.WriteString("trace", s.Trace);
        w.WriteString("datacenter", s.Datacenter);
        w.WriteBoolean("cloudSimCompat", s.CloudSimCompat);
        w.WriteNumber("seed", s.Seed);
        w.WriteEndObject();
    }
}
