using KvmCluster.Sim.Engine;
using ScottPlot;

namespace KvmCluster.Sim.Reports;

/// <summary>
/// The charts of one run (ScottPlot): active hosts and power over time, the distribution of active hosts'
/// utilisation, and migrations per hour. Each is written as PNG and SVG; the SVG text also goes into the report.
/// </summary>
public static class RunPlots
{
    public const int Width = 900, Height = 380;

    public static IReadOnlyList<(string Name, Plot Plot)> Create(SimResult result)
    {
        var rows = result.TimeSeries;
        var hours = rows.Select(r => r.Time / 3600).ToArray();
        return
        [
            ("power", PowerAndHosts(hours, rows)),
            ("utilization", Utilization(result.UtilizationHistogram)),
            ("migrations", MigrationsPerHour(rows)),
        ];
    }

    private static Plot PowerAndHosts(double[] hours, IReadOnlyList<TimeSeriesRow> rows)
    {
        var plot = new Plot();
        var hosts = plot.Add.Scatter(hours, rows.Select(r => (double)r.ActiveHosts).ToArray());
        hosts.LegendText = "active hosts";
        hosts.MarkerSize = 0;
        var power = plot.Add.Scatter(hours, rows.Select(r => r.PowerWatts / 1000).ToArray());
        power.LegendText = "power (kW)";
        power.MarkerSize = 0;
        power.Axes.YAxis = plot.Axes.Right;
        plot.Title("Active hosts and power");
        plot.XLabel("hours");
        plot.YLabel("active hosts");
        plot.Axes.Right.Label.Text = "kW";
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    private static Plot Utilization(IReadOnlyList<long> histogram)
    {
        var plot = new Plot();
        var total = Math.Max(1, histogram.Sum());
        var bars = plot.Add.Bars(Enumerable.Range(0, histogram.Count).Select(i => (double)i).ToArray(),
            histogram.Select(c => 100.0 * c / total).ToArray());
        foreach (var b in bars.Bars) b.Size = 0.9;
        plot.Title("Utilisation of active hosts (all steps)");
        plot.XLabel("CPU utilisation (%)");
        plot.YLabel("share of samples (%)");
        return plot;
    }

    private static Plot MigrationsPerHour(IReadOnlyList<TimeSeriesRow> rows)
    {
        var plot = new Plot();
        var perHour = new SortedDictionary<int, double>();
        foreach (var r in rows)
        {
            var h = (int)(r.Time / 3600);
            perHour[h] = perHour.GetValueOrDefault(h) + r.Migrations;
        }
        if (perHour.Count > 0)
        {
            var bars = plot.Add.Bars(perHour.Keys.Select(k => (double)k).ToArray(), perHour.Values.ToArray());
            foreach (var b in bars.Bars) b.Size = 0.8;
        }
        plot.Title("Migrations started per hour");
        plot.XLabel("hour");
        plot.YLabel("migrations");
        return plot;
    }

    /// <summary>Writes NAME.png and NAME.svg for each chart; returns (name, svg text) for the report.</summary>
    public static List<(string Name, string Svg)> Save(IReadOnlyList<(string Name, Plot Plot)> plots, string dir)
    {
        var svgs = new List<(string, string)>();
        foreach (var (name, plot) in plots)
        {
            plot.SavePng(Path.Combine(dir, name + ".png"), Width, Height);
            var svg = plot.GetSvgXml(Width, Height);
            File.WriteAllText(Path.Combine(dir, name + ".svg"), svg);
            svgs.Add((name, svg));
        }
        return svgs;
    }
}
