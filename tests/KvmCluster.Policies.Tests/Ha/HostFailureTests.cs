using KvmCluster.Policies.Ha;

namespace KvmCluster.Policies.Tests.Ha;

/// <summary>The failure-handling rule: only a host fenced by power or by its expired lease gives its guests up.</summary>
public sealed class HostFailureTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan SuspectFor = TimeSpan.FromSeconds(5);

    private static HostFailureState Run(params (double At, HostObservation Seen)[] steps)
    {
        var s = HostFailureState.Online(T0);
        foreach (var (at, seen) in steps) s = HostFailure.Next(s, seen, T0.AddSeconds(at), SuspectFor);
        return s;
    }

    private static HostObservation Gone(LeaseFact lease = LeaseFact.Unknown, FenceFact fence = FenceFact.None, string? error = null) =>
        new(Reporting: false, SiloActive: false, lease, fence, error);

    private static readonly HostObservation Reporting = new(true, true, LeaseFact.Held, FenceFact.None);

    [Fact]
    public void A_host_whose_silo_left_is_suspect_then_fencing_and_fenced_only_when_its_lease_expires()
    {
        Assert.Equal(HostHealth.Suspect, Run((1, Gone())).Health);
        Assert.Equal(HostHealth.Suspect, Run((1, Gone()), (3, Gone())).Health); // not yet suspect for long enough
        var fencing = Run((1, Gone()), (7, Gone()));
        Assert.Equal(HostHealth.Fencing, fencing.Health);
        Assert.False(fencing.MayRestartGuests);
        var fenced = Run((1, Gone()), (7, Gone()), (9, Gone(LeaseFact.Expired)));
        Assert.Equal(HostHealth.Fenced, fenced.Health);
        Assert.True(fenced.MayRestartGuests);
        Assert.Contains("lease expired", fenced.Why, StringComparison.Ordinal);
    }

    [Fact]
    public void A_confirmed_power_off_fences_a_host_without_waiting_for_its_lease()
    {
        var s = Run((1, Gone()), (7, Gone()), (8, Gone(LeaseFact.Held, FenceFact.ConfirmedOff)));
        Assert.Equal(HostHealth.Fenced, s.Health);
        Assert.Contains("power status says off", s.Why, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_fence_never_lets_its_guests_restart_however_long_it_lasts_and_says_why()
    {
        var s = Run((1, Gone()), (7, Gone()), (8, Gone(fence: FenceFact.Failed, error: "power command 'off h1' exited 1")), (3600, Gone(fence: FenceFact.Failed, error: "power command 'off h1' exited 1")));
        Assert.Equal(HostHealth.Fencing, s.Health);
        Assert.False(s.MayRestartGuests);
        Assert.Contains("exited 1", s.Why, StringComparison.Ordinal);
    }

    [Fact]
    public void A_partitioned_host_that_still_holds_its_lease_or_its_membership_is_never_fenced_by_time()
    {
        var holding = Run((1, Gone(LeaseFact.Held)), (60, Gone(LeaseFact.Held)), (600, Gone(LeaseFact.Held)));
        Assert.Equal(HostHealth.Suspect, holding.Health);
        Assert.Contains("holds its lease", holding.Why, StringComparison.Ordinal);
        var member = new HostObservation(Reporting: false, SiloActive: true, LeaseFact.Unknown, FenceFact.None);
        Assert.Equal(HostHealth.Suspect, Run((1, member), (600, member)).Health);
    }

    [Fact]
    public void A_suspect_host_that_reports_again_is_online_and_a_fenced_one_is_recovered_then_online()
    {
        Assert.Equal(HostHealth.Online, Run((1, Gone()), (2, Reporting)).Health);
        var back = Run((1, Gone()), (7, Gone()), (9, Gone(LeaseFact.Expired)), (30, Reporting));
        Assert.Equal(HostHealth.Recovered, back.Health);
        Assert.False(back.MayRestartGuests);
        Assert.Equal(HostHealth.Online, Run((1, Gone()), (7, Gone()), (9, Gone(LeaseFact.Expired)), (30, Reporting), (31, Reporting)).Health);
    }
}
