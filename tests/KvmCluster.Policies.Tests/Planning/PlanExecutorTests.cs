using KvmCluster.Policies.Model;
using KvmCluster.Policies.Planning;
using static KvmCluster.Policies.Tests.Build;
using PolicyT = KvmCluster.Policies.Rules.Policy;

namespace KvmCluster.Policies.Tests.Planning;

/// <summary>
/// The plan executor as a state machine, driven by hand: a small fleet in a test view whose hosts report when the test
/// says so, outcomes recorded as a shell would. Every rule the scheduler and the simulator rely on is asserted here.
/// </summary>
public class PlanExecutorTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly PolicyT Policy = PolicyT.Default;

    /// <summary>A fleet the test moves by hand: guests where they run, hosts' power and when each last reported.</summary>
    private sealed class View : IExecutionView
    {
        public DateTimeOffset Now { get; set; } = T0;
        public Dictionary<string, Host> Hosts { get; } = [];
        public Dictionary<string, string> GuestHost { get; } = [];
        public Dictionary<string, DateTimeOffset?> Reported { get; } = [];
        public List<InFlightMigration> Moving { get; } = [];

        public View(params string[] hosts)
        {
            foreach (var h in hosts) { Hosts[h] = Build.Host(h); Reported[h] = T0; }
        }

        public FleetSnapshot Fleet() => Fleet(Hosts.Values, GuestHost.Select(kv => Guest(kv.Key, host: kv.Value)));
        private static FleetSnapshot Fleet(IEnumerable<Host> hosts, IEnumerable<Guest> guests) => Build.Fleet(hosts, guests);

        public HostSighting? Host(string name) => Hosts.TryGetValue(name, out var h)
            ? new HostSighting(h.Power, h.Power == PowerState.On ? Reported[name] : null, [.. GuestHost.Where(g => g.Value == name).Select(g => g.Key)])
            : null;

        public IReadOnlyList<InFlightMigration> InFlight => Moving;

        public void Report(string host) => Reported[host] = Now;
        public void Later(double seconds) => Now = Now.AddSeconds(seconds);
    }

    private static (PlanExecution E, IReadOnlyList<ExecutionCommand> C) Advance(PlanExecution e, View v) => PlanExecutor.Advance(e, v, Policy);

    [Fact]
    public void A_power_off_runs_only_after_its_host_is_empty_and_has_said_so_and_completes_when_the_controller_says_off()
    {
        var v = new View("hv-1", "hv-2");
        v.GuestHost["a"] = "hv-1";
        v.GuestHost["b"] = "hv-1";
        var e = PlanExecutor.Start("p", [
            new PlanStep(1, 1, StepKind.Migrate, "hv-2", "a", "hv-1"),
            new PlanStep(2, 2, StepKind.Migrate, "hv-2", "b", "hv-1"),
            new PlanStep(3, 3, StepKind.PowerOff, "hv-1")], T0);

        var (e1, c1) = Advance(e, v);
        Assert.Equal([new StartMigration(1, "a", "hv-1", "hv-2")], c1);
        Assert.Empty(Advance(e1, v).C); // nothing twice while its outcome is awaited

        v.Later(10); v.GuestHost["a"] = "hv-2";
        var (e2, c2) = Advance(PlanExecutor.Record(e1, new MigrationEnded(1, true), v.Now), v);
        Assert.Equal([new StartMigration(2, "b", "hv-1", "hv-2")], c2);

        // The last guest has left, but hv-1 has not reported since: no power-off yet.
        v.Later(10); v.GuestHost["b"] = "hv-2";
        var (e3, c3) = Advance(PlanExecutor.Record(e2, new MigrationEnded(2, true), v.Now), v);
        Assert.Empty(c3);
        Assert.Equal(StepPhase.AwaitingEmpty, e3.Progress(3).Phase);
        Assert.Contains("has not reported since its last guest left", e3.Progress(3).Detail);

        v.Later(5); v.Report("hv-1");
        var (e4, c4) = Advance(e3, v);
        Assert.Equal([new PowerOffHost(3, "hv-1")], c4);

        var (e5, c5) = Advance(PlanExecutor.Record(e4, new PowerCommandDone(3), v.Now), v);
        Assert.Equal([new ReadPowerStatus(3, "hv-1")], c5);
        var (e6, c6) = Advance(PlanExecutor.Record(e5, new PowerStatusRead(3, PowerState.On), v.Now), v);
        Assert.Empty(c6); // asked again only after the poll interval
        v.Later(PlanExecutor.StatusPollInterval.TotalSeconds);
        var (e7, c7) = Advance(e6, v);
        Assert.Equal([new ReadPowerStatus(3, "hv-1")], c7);
        var (done, _) = Advance(PlanExecutor.Record(e7, new PowerStatusRead(3, PowerState.Off), v.Now), v);
        Assert.Equal(PlanState.Succeeded, done.State);
        Assert.All(done.Steps, s => Assert.Equal(StepStatus.Completed, s.Status));
    }

    [Fact]
    public void A_host_that_never_empties_fails_its_power_off_after_the_timeout_and_is_never_switched_off()
    {
        var v = new View("hv-1");
        v.GuestHost["stuck"] = "hv-1";
        var (e, c) = Advance(PlanExecutor.Start("p", [new PlanStep(1, 1, StepKind.PowerOff, "hv-1")], T0), v);
        Assert.Empty(c);
        v.Later(Policy.Power.PowerOffTimeoutMinutes * 60 + 1);
        var (failed, c2) = Advance(e, v);
        Assert.Empty(c2);
        Assert.Equal(PlanState.Failed, failed.State);
        Assert.Contains("still runs stuck", failed.Failure);
    }

    [Fact]
    public void A_power_on_waits_for_the_booted_host_to_report_before_the_migrations_onto_it_start()
    {
        var v = new View("hv-1", "hv-2");
        v.Hosts["hv-2"] = v.Hosts["hv-2"] with { Power = PowerState.Standby };
        v.GuestHost["a"] = "hv-1";
        var e = PlanExecutor.Start("p", [new PlanStep(1, 1, StepKind.PowerOn, "hv-2"), new PlanStep(2, 2, StepKind.Migrate, "hv-2", "a", "hv-1")], T0);
        var (e1, c1) = Advance(e, v);
        Assert.Equal([new PowerOnHost(1, "hv-2")], c1);
        var (e2, c2) = Advance(PlanExecutor.Record(e1, new PowerCommandDone(1), v.Now), v);
        Assert.Empty(c2);
        Assert.Equal(StepPhase.Booting, e2.Progress(1).Phase);

        // It is on and reports: only now does the migration onto it start.
        v.Later(90); v.Hosts["hv-2"] = v.Hosts["hv-2"] with { Power = PowerState.On }; v.Report("hv-2");
        var (e3, c3) = Advance(e2, v);
        Assert.Equal(StepStatus.Completed, e3.Progress(1).Status);
        Assert.Equal([new StartMigration(2, "a", "hv-1", "hv-2")], c3);
    }

    [Fact]
    public void A_host_that_does_not_boot_in_time_fails_the_plan_and_nothing_after_it_starts()
    {
        var v = new View("hv-1", "hv-2");
        v.Hosts["hv-2"] = v.Hosts["hv-2"] with { Power = PowerState.Off };
        v.GuestHost["a"] = "hv-1";
        var (e1, _) = Advance(PlanExecutor.Start("p", [new PlanStep(1, 1, StepKind.PowerOn, "hv-2"), new PlanStep(2, 2, StepKind.Migrate, "hv-2", "a", "hv-1")], T0), v);
        var (e2, _) = Advance(PlanExecutor.Record(e1, new PowerCommandDone(1), v.Now), v);
        v.Later(Policy.Power.BootTimeoutMinutes * 60 + 1);
        var (failed, c) = Advance(e2, v);
        Assert.Empty(c);
        Assert.Equal(PlanState.Failed, failed.State);
        Assert.Contains("did not report as on", failed.Failure);
        Assert.Equal(StepStatus.Pending, failed.Progress(2).Status);
    }

    [Fact]
    public void A_failed_power_command_or_migration_stops_the_plan_with_its_reason()
    {
        var v = new View("hv-1", "hv-2");
        v.GuestHost["a"] = "hv-1";
        var e = PlanExecutor.Start("p", [new PlanStep(1, 1, StepKind.Migrate, "hv-2", "a", "hv-1"), new PlanStep(2, 2, StepKind.PowerOff, "hv-1")], T0);
        var (e1, _) = Advance(e, v);
        var (failed, c) = Advance(PlanExecutor.Record(e1, new MigrationEnded(1, false, "the destination QEMU exited"), v.Now), v);
        Assert.Empty(c);
        Assert.Equal(PlanState.Failed, failed.State);
        Assert.Equal("migrate a hv-1 → hv-2 failed: the destination QEMU exited", failed.Failure);

        var off = PlanExecutor.Start("q", [new PlanStep(1, 1, StepKind.PowerOn, "hv-3")], T0);
        v.Hosts["hv-3"] = Build.Host("hv-3") with { Power = PowerState.Standby };
        v.Reported["hv-3"] = null;
        var (o1, _) = Advance(off, v);
        var (o2, _) = Advance(PlanExecutor.Record(o1, new PowerCommandDone(1, "ipmitool exited 1: Unable to establish IPMI session"), v.Now), v);
        Assert.Equal(PlanState.Failed, o2.State);
        Assert.Contains("Unable to establish IPMI session", o2.Failure);
    }

    [Fact]
    public void A_wave_is_checked_against_the_fleet_when_it_starts_and_a_move_that_no_longer_holds_fails_it()
    {
        var v = new View("hv-1", "hv-2", "hv-3");
        v.GuestHost["a"] = "hv-1";
        v.GuestHost["b"] = "hv-1";
        var e = PlanExecutor.Start("p", [new PlanStep(1, 1, StepKind.Migrate, "hv-2", "a", "hv-1"), new PlanStep(2, 2, StepKind.Migrate, "hv-3", "b", "hv-1")], T0);
        var (e1, _) = Advance(e, v);
        v.GuestHost["a"] = "hv-2";
        v.GuestHost["b"] = "hv-2"; // an operator moved b meanwhile
        var (failed, c) = Advance(PlanExecutor.Record(e1, new MigrationEnded(1, true), v.Now), v);
        Assert.Empty(c);
        Assert.Equal(PlanState.Failed, failed.State);
        Assert.Contains("guest b runs on hv-2, not hv-1", failed.Failure);

        // The destination must still admit the guest: in maintenance it does not.
        var v2 = new View("hv-1", "hv-2");
        v2.GuestHost["c"] = "hv-1";
        v2.Hosts["hv-2"] = v2.Hosts["hv-2"] with { Maintenance = true };
        var (refused, c2) = Advance(PlanExecutor.Start("q", [new PlanStep(1, 1, StepKind.Migrate, "hv-2", "c", "hv-1")], T0), v2);
        Assert.Empty(c2);
        Assert.Contains("host-state", refused.Failure);
    }

    [Fact]
    public void After_a_restart_a_power_command_whose_outcome_was_lost_is_issued_again_and_migrations_are_not()
    {
        var v = new View("hv-1", "hv-2");
        v.Hosts["hv-2"] = v.Hosts["hv-2"] with { Power = PowerState.Standby };
        v.GuestHost["a"] = "hv-1";
        var (e1, c1) = Advance(PlanExecutor.Start("p", [new PlanStep(1, 1, StepKind.PowerOn, "hv-2")], T0), v);
        Assert.Equal([new PowerOnHost(1, "hv-2")], c1);
        var (again, c2) = Advance(PlanExecutor.Resumed(e1), v);
        Assert.Equal([new PowerOnHost(1, "hv-2")], c2);

        var m = PlanExecutor.Start("m", [new PlanStep(1, 1, StepKind.Migrate, "hv-2", "a", "hv-1")], T0);
        v.Hosts["hv-2"] = v.Hosts["hv-2"] with { Power = PowerState.On };
        var (m1, _) = Advance(m, v);
        Assert.Empty(Advance(PlanExecutor.Resumed(m1), v).C);
        Assert.Equal(StepStatus.Running, again.Progress(1).Status);
    }

    [Fact]
    public void An_executor_state_survives_a_round_trip_through_json_and_goes_on_the_same()
    {
        var v = new View("hv-1", "hv-2");
        v.GuestHost["a"] = "hv-1";
        var (e1, _) = Advance(PlanExecutor.Start("p", [new PlanStep(1, 1, StepKind.Migrate, "hv-2", "a", "hv-1"), new PlanStep(2, 2, StepKind.PowerOff, "hv-1")], T0), v);
        var json = System.Text.Json.JsonSerializer.Serialize(e1);
        var back = System.Text.Json.JsonSerializer.Deserialize<PlanExecution>(json)!;
        Assert.Equal(json, System.Text.Json.JsonSerializer.Serialize(back));
        v.Later(5); v.GuestHost["a"] = "hv-2"; v.Later(1); v.Report("hv-1");
        Assert.Equal(Advance(PlanExecutor.Record(e1, new MigrationEnded(1, true), v.Now), v).C, Advance(PlanExecutor.Record(back, new MigrationEnded(1, true), v.Now), v).C);
    }
}
