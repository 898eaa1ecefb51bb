namespace KvmCluster.Sim.Engine;

/// <summary>
/// Host power and energy. CloudSim-compatible: a host draws P(u) only while it has load, 0 W otherwise, and the
/// energy of an interval is the trapezoid of P over it (0 if the host was idle at its start). Native: a host
/// that is on draws P(u) including idle P(0); a booting host draws P(0); a host that is off draws its standby
/// watts. Non-power-aware (NPA): every host draws P(1) all the time.
/// </summary>
public sealed class SimPower(SimOptions options, bool nonPowerAware)
{
    private double _globalJoules;

    /// <summary>Total energy: accumulated globally (CloudSim-compatible, NPA) or per host (native).</summary>
    public double EnergyJoules(SimHost[] hosts)
    {
        var total = _globalJoules;
        foreach (var h in hosts) total += h.EnergyJoules;
        return total;
    }

    /// <summary>Adds the energy of [t − dt, t] for every host; utilisations are those just measured.</summary>
    /// <param name="updated">The hosts just updated; the others were empty and idle throughout, which in
    /// CloudSim-compatible mode costs nothing (unless non-power-aware, where every host draws full power).</param>
    public void Accumulate(SimHost[] hosts, List<int> updated, double dt)
    {
        if (dt <= 0) return;
        if (options.Model.HostsIntegrateOwnEnergy && !nonPowerAware) return; // hosts integrate their own energy
        var only = options.Model.IdleCostsNothing && !nonPowerAware ? updated : null;
        var count = only?.Count ?? hosts.Length;
        for (var k = 0; k < count; k++)
        {
            var host = hosts[only is null ? k : only[k]];
            var model = host.Type.Power;
            if (nonPowerAware) { _globalJoules += model.MaxWatts * dt; continue; }
            if (options.Model.IdleCostsNothing && host.PreviousUtilizationMips == 0) continue; // idle at the start costs nothing
            var from = host.PreviousUtilization;
            var pFrom = model.At(from);
            var pTo = model.At(host.Utilization);
            _globalJoules += (pFrom + (pTo - pFrom) / 2) * dt;
        }
    }

    /// <summary>Instantaneous draw of one host now, for the time series.</summary>
    public double Watts(SimHost host)
    {
        var model = host.Type.Power;
        if (nonPowerAware) return model.MaxWatts;
        if (options.Model.HasPowerStates && host.Power != HostPower.On)
            return host.Power == HostPower.Booting ? model.IdleWatts : model.StandbyWatts;
        var u = host.Utilization;
        if (options.Model.IdleCostsNothing && u == 0) return 0;
        return model.At(Math.Min(1, u));
    }
}
