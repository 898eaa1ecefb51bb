using KvmCluster.Sim.Engine;

namespace KvmCluster.Sim.Reports;

/// <summary>Everything <c>--out DIR</c> gets for one run: summary.json, timeseries.csv, the charts and report.html.</summary>
public static class RunOutput
{
    public static void Write(SimResult result, string dir)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "summary.json"), SummaryJson.ToJson(result.Summary) + "\n");
        File.WriteAllText(Path.Combine(dir, "timeseries.csv"), TimeSeriesCsv.ToCsv(result.TimeSeries));
        var charts = RunPlots.Save(RunPlots.Create(result), dir);
        File.WriteAllText(Path.Combine(dir, "report.html"), HtmlReport.Run(result.Summary, charts));
    }
}
