using System.Globalization;
using System.Net;
using System.Text;
using KvmCluster.Sim.Engine;

namespace KvmCluster.Sim.Reports;

/// <summary>One self-contained HTML page: the summary table and the charts inlined as SVG (no external files).</summary>
public static class HtmlReport
{
    public static string Run(SimSummary s, IReadOnlyList<(string Name, string Svg)> charts)
    {
        var rows = new List<(string, string)>
        {
            ("Policy", s.Policy), ("Trace", s.Trace), ("Datacenter", s.Datacenter),
            ("Model", s.CloudSimCompat ? Engine.Models.CloudSimModel.Instance.Description : Engine.Models.NativeModel.Instance.Description),
            ("Hosts / VMs", $"{s.Hosts} / {s.Vms}" + (s.RejectedVms > 0 ? $" ({s.RejectedVms} rejected)" : "")),
            ("Energy", $"{F(s.EnergyKWh, "0.00")} kWh"),
            ("Migrations", s.Migrations + (s.FailedMigrations > 0 ? $" ({s.FailedMigrations} cancelled: would not converge)" : "")),
            ("SLATAH", P(s.Slatah)), ("PDM", P(s.Pdm)), ("SLAV", P(s.Slav)),
            ("ESV", F(s.Esv, "0.######")), ("Overall SLA violation", P(s.OverallSlaViolation)),
            ("Host shutdowns", s.HostShutdowns.ToString(CultureInfo.InvariantCulture)),
            ("Simulated", $"{F(s.SimulatedSeconds / 3600, "0.#")} h in {F(s.WallSeconds, "0.###")} s"),
        };
        return Page($"kvmsim — {s.Policy} on {s.Trace}", Table(["", ""], rows.Select(r => new[] { r.Item1, r.Item2 })), charts);
    }

    public static string Page(string title, string body, IReadOnlyList<(string Name, string Svg)> charts)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(WebUtility.HtmlEncode(title)).Append("</title>\n")
          .Append("<style>body{font-family:sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse;margin-bottom:2em}")
          .Append("td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}th{background:#f4f4f4}figure{margin:1em 0}</style>\n")
          .Append("</head><body>\n<h1>").Append(WebUtility.HtmlEncode(title)).Append("</h1>\n").Append(body);
        foreach (var (name, svg) in charts)
        {
            var start = svg.IndexOf("<svg", StringComparison.Ordinal); // drop the XML prolog; inline SVG needs none
            sb.Append("<figure id=\"").Append(WebUtility.HtmlEncode(name)).Append("\">").Append(start >= 0 ? svg[start..] : svg).Append("</figure>\n");
        }
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    public static string Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        var sb = new StringBuilder("<table>\n");
        if (header.Any(h => h.Length > 0))
        {
            sb.Append("<tr>");
            foreach (var h in header) sb.Append("<th>").Append(WebUtility.HtmlEncode(h)).Append("</th>");
            sb.Append("</tr>\n");
        }
        foreach (var row in rows)
        {
            sb.Append("<tr>");
            foreach (var cell in row) sb.Append("<td>").Append(WebUtility.HtmlEncode(cell)).Append("</td>");
            sb.Append("</tr>\n");
        }
        return sb.Append("</table>\n").ToString();
    }

    public static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
    public static string P(double v) => (v * 100).ToString("0.#####", CultureInfo.InvariantCulture) + " %";
}
