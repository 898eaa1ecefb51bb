using System.Globalization;
using System.Text;
using KvmCluster.Sim.Engine;

namespace KvmCluster.Sim.Reports;

/// <summary>One row per decision step: time, active hosts, power, overloaded hosts, migrations started, mean utilisation.</summary>
public static class TimeSeriesCsv
{
    public const string Header = "time_s,active_hosts,power_w,overloaded_hosts,migrations,mean_utilization";

    public static string ToCsv(IReadOnlyList<TimeSeriesRow> rows)
    {
        var sb = new StringBuilder(Header.Length + 2 + rows.Count * 48);
        sb.Append(Header).Append('\n');
        var c = CultureInfo.InvariantCulture;
        foreach (var r in rows)
            sb.Append(r.Time.ToString("0.###", c)).Append(',')
              .Append(r.ActiveHosts.ToString(c)).Append(',')
              .Append(r.PowerWatts.ToString("0.###", c)).Append(',')
              .Append(r.OverloadedHosts.ToString(c)).Append(',')
              .Append(r.Migrations.ToString(c)).Append(',')
              .Append(r.MeanUtilization.ToString("0.######", c)).Append('\n');
        return sb.ToString();
    }
}
