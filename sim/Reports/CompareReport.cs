using System.Text;
using System.Text.Json;
using KvmCluster.Sim.Cli;
using KvmCluster.Sim.Engine;
using ScottPlot;

namespace KvmCluster.Sim.Reports;

/// <summary>
/// The outputs of <c>kvmsim compare</c>: every run's own outputs under DIR/TRACE/POLICY/, bar charts of the
/// medians per policy (energy, migrations, SLAV, ESV) with every run as a dot, and compare.html with both.
/// </summary>
public static class CompareReport
{
    public static string Json(IReadOnlyList<SimSummary> runs, IReadOnlyList<CompareCommand.PolicyMedians> medians)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("medians");
            foreach (var m in medians)
            {
                w.WriteStartObject();
                w.WriteString("policy", m.Policy);
                w.WriteNumber("runs", m.Runs);
                w.WriteNumber("energyKWh", m.EnergyKWh);
                w.WriteNumber("migrations", m.Migrations);
                w.WriteNumber("slatah", m.Slatah);
                w.WriteNumber("pdm", m.Pdm);
                w.WriteNumber("slav", m.Slav);
                w.WriteNumber("esv", m.Esv);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("runs");
            foreach (var r in runs) SummaryJson.Write(w, r);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    public static void Write(string dir, IReadOnlyList<SimResult> runs, IReadOnlyList<CompareCommand.PolicyMedians> medians)
    {
        Directory.CreateDirectory(dir);
        foreach (var r in runs) RunOutput.Write(r, Path.Combine(dir, Safe(TraceLabel(r.Summary.Trace)), Safe(r.Summary.Policy)));
        var metrics = new (string Name, string Title, Func<SimSummary, double> Run, Func<CompareCommand.PolicyMedians, double> Median)[]
        {
            ("compare-energy", "Energy (kWh), median per policy", s => s.EnergyKWh, m => m.EnergyKWh),
            ("compare-migrations", "Migrations, median per policy", s => s.Migrations, m => m.Migrations),
            ("compare-slav", "SLAV (%), median per policy", s => s.Slav * 100, m => m.Slav * 100),
            ("compare-esv", "ESV, median per policy", s => s.Esv, m => m.Esv),
        };
        var charts = metrics.Select(x => (x.Name, Chart(x.Title, runs, medians, x.Run, x.Median))).ToList();
        var svgs = RunPlots.Save(charts, dir);
        var table = HtmlReport.Table(["policy", "runs", "energy kWh", "migrations", "SLATAH", "PDM", "SLAV", "ESV"],
            medians.Select(m => new[]
            {
                m.Policy, m.Runs.ToString(), HtmlReport.F(m.EnergyKWh, "0.00"), HtmlReport.F(m.Migrations, "0.#"),
                HtmlReport.P(m.Slatah), HtmlReport.P(m.Pdm), HtmlReport.P(m.Slav), HtmlReport.F(m.Esv, "0.#######"),
            }));
        var links = new StringBuilder("<h2>Runs</h2><ul>\n");
        foreach (var r in runs)
        {
            var rel = $"{Safe(TraceLabel(r.Summary.Trace))}/{Safe(r.Summary.Policy)}/report.html";
            links.Append("<li><a href=\"").Append(System.Net.WebUtility.HtmlEncode(rel)).Append("\">")
                 .Append(System.Net.WebUtility.HtmlEncode($"{r.Summary.Policy} on {r.Summary.Trace}")).Append("</a></li>\n");
        }
        links.Append("</ul>\n");
        File.WriteAllText(Path.Combine(dir, "compare.html"), HtmlReport.Page("kvmsim — policy comparison (medians)", table + links, svgs));
        File.WriteAllText(Path.Combine(dir, "compare.json"), Json(runs.Select(r => r.Summary).ToList(), medians));
    }

    private static Plot Chart(string title, IReadOnlyList<SimResult> runs, IReadOnlyList<CompareCommand.PolicyMedians> medians,
        Func<SimSummary, double> run, Func<CompareCommand.PolicyMedians, double> median)
    {
        var plot = new Plot();
        var positions = Enumerable.Range(0, medians.Count).Select(i => (double)i).ToArray();
        var bars = plot.Add.Bars(positions, medians.Select(median).ToArray());
        foreach (var b in bars.Bars) b.Size = 0.6;
        for (var i = 0; i < medians.Count; i++)
        {
            var values = runs.Where(r => r.Summary.Policy == medians[i].Policy).Select(r => run(r.Summary)).ToArray();
            var dots = plot.Add.ScatterPoints(values.Select(_ => (double)i).ToArray(), values);
            dots.Color = Colors.Black;
            dots.MarkerSize = 5;
        }
        plot.Axes.Bottom.SetTicks(positions, medians.Select(m => m.Policy).ToArray());
        plot.Title(title);
        return plot;
    }

    /// <summary>A short label for a trace: the last path segment (a PlanetLab day), else the spec.</summary>
    public static string TraceLabel(string trace)
    {
        var colon = trace.IndexOf(':');
        var rest = colon >= 0 ? trace[(colon + 1)..] : trace;
        var name = Path.GetFileName(rest.TrimEnd('/'));
        return string.IsNullOrEmpty(name) ? rest : name;
    }

    private static string Safe(string s) => string.Concat(s.Select(c => char.IsLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_'));
}
