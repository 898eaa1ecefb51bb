namespace KvmCluster.Sim.Engine;

/// <summary>
/// What the reports need, gathered as the run goes: one time-series row per decision step, a histogram of
/// active hosts' utilisation (1 % bins; a week of 10,000 hosts stays a few hundred bytes), and the summary
/// metrics computed as CloudSim's Helper computes them.
/// </summary>
public sealed class SimRecorder
{
    private readonly List<TimeSeriesRow> _series = [];
    private readonly long[] _histogram = new long[101];

    public IReadOnlyList<TimeSeriesRow> Series => _series;
    public IReadOnlyList<long> UtilizationHistogram => _histogram;

    public void Record(SimDatacenter dc, SimPower power, double time, int migrations)
    {
        int active = 0, overloaded = 0;
        double watts = 0, utilization = 0;
        foreach (var h in dc.Hosts)
        {
            watts += power.Watts(h);
            if (h.UtilizationMips <= 0) continue;
            var u = h.Utilization;
            active++;
            utilization += u;
            _histogram[(int)Math.Round(Math.Clamp(u, 0, 1) * 100)]++;
            if (h.RequestedMipsHere > h.TotalMips) overloaded++;
        }
        _series.Add(new TimeSeriesRow(time, active, watts, overloaded, migrations, active > 0 ? utilization / active : 0));
    }

    internal static SimSummary Summarise(SimDatacenter dc, SimPower power, SimMigrations migrations, SimSummary names)
    {
        double active = 0, violation = 0, allocated = 0, requested = 0, underMigration = 0, share = 0;
        int shutdowns = 0, violations = 0;
        foreach (var h in dc.Hosts) { active += h.State.ActiveSeconds; violation += h.State.ViolationSeconds; shutdowns += h.State.Shutdowns; }
        foreach (var vm in dc.Vms)
        {
            allocated += vm.State.Allocated;
            requested += vm.State.Requested;
            underMigration += vm.State.UnderAllocatedInMigration;
            share += vm.State.ViolationShare;
            violations += vm.State.Violations;
        }
        var slatah = active > 0 ? violation / active : 0;
        var pdm = requested > 0 ? underMigration / requested : 0;
        var energy = power.EnergyJoules(dc.Hosts) / (3600 * 1000);
        return names with
        {
            EnergyKWh = energy,
            Migrations = migrations.Count,
            FailedMigrations = migrations.Failed,
            HostBoots = migrations.Boots,
            Slatah = slatah,
            Pdm = pdm,
            Slav = slatah * pdm,
            Esv = energy * slatah * pdm,
            OverallSlaViolation = requested > 0 ? (requested - allocated) / requested : 0,
            AverageSlaViolation = violations > 0 ? share / violations : 0,
            HostShutdowns = shutdowns,
            Hosts = dc.Hosts.Length,
            Vms = dc.Vms.Length,
            RejectedVms = dc.Vms.Count(v => v.Rejected),
        };
    }
}
