using System.Collections.Immutable;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Planning;

/// <summary>
/// Carries out a plan, as a pure state machine: given its execution state, the outcomes recorded so far and the fleet
/// as it is now, it says what to start next and when the plan has succeeded or failed. The live scheduler and the
/// simulator both drive it, so no execution rule exists twice (pve-ha-manager keeps one manager for its production
/// and simulated environments the same way).
/// <list type="bullet">
/// <item>Waves run in order; a wave starts when every step of the one before it has completed.</item>
/// <item>When a wave starts, each of its migrations is checked against the fleet as it is then: the guest still on
/// its source and not moving, the destination admitting it beside the wave's other arrivals (every mandatory
/// constraint). A migration that no longer holds fails.</item>
/// <item>A power-on completes when the booted host reports as on (after the command), within the policy's boot
/// timeout.</item>
/// <item>A power-off runs only once every move off its host has completed, no migration touches it, and the host has
/// reported since with no guest on it; it completes when the power controller's status says off or standby.</item>
/// <item>A failed step fails the plan with its reason; nothing after it starts (steps already running end on their
/// own and are still recorded).</item>
/// </list>
/// </summary>
public static class PlanExecutor
{
    /// <summary>How often a power-off's completion is asked of the power controller.</summary>
    public static readonly TimeSpan StatusPollInterval = TimeSpan.FromSeconds(5);

    public static PlanExecution Start(string planId, IReadOnlyList<PlanStep> steps, DateTimeOffset now) => new()
    {
        PlanId = planId,
        Plan = [.. steps.OrderBy(s => s.Step)],
        Steps = [.. steps.OrderBy(s => s.Step).Select(s => new StepExecution(s.Step))],
        StartedAt = now,
    };

    /// <summary>Records what the shell saw of a command it carried out.</summary>
    public static PlanExecution Record(PlanExecution e, StepOutcome outcome, DateTimeOffset now)
    {
        var s = e.Progress(outcome.Step);
        if (s.Status is StepStatus.Completed or StepStatus.Failed) return e; // a late or repeated outcome
        var step = e.StepOf(outcome.Step);
        s = outcome switch
        {
            MigrationEnded { Completed: true } => s with { Status = StepStatus.Completed, Outstanding = false, EndedAt = now, Detail = null },
            MigrationEnded m => Fail(s, now, $"{step} failed: {m.Reason ?? "no reason given"}"),
            PowerCommandDone { Error: { } error } => Fail(s, now, $"{step} failed: {error}"),
            PowerCommandDone => step.Kind == StepKind.PowerOn
                ? s with { Phase = StepPhase.Booting, Since = now, Outstanding = false }
                : s with { Phase = StepPhase.ConfirmingOff, Since = now, Outstanding = false },
            PowerStatusRead { Power: PowerState.Off or PowerState.Standby } r =>
                s with { Status = StepStatus.Completed, Outstanding = false, EndedAt = now, Detail = $"power controller says {r.Power.ToString()!.ToLowerInvariant()}" },
            PowerStatusRead r => s with { Outstanding = false, Detail = r.Error is { } err ? $"status not read: {err}" : $"power controller still says {r.Power?.ToString().ToLowerInvariant() ?? "unknown"}" },
            _ => throw new ArgumentException($"unknown outcome {outcome}", nameof(outcome)),
        };
        return e.With(s);
    }

    /// <summary>
    /// After the shell restarted: commands whose outcome was awaited are issued again (powering a host on or off
    /// twice is harmless, and a power-off re-checks that its host is empty first). Migrations are not restarted: the
    /// shell asks their migration grains how they ended.
    /// </summary>
    public static PlanExecution Resumed(PlanExecution e)
    {
        var steps = e.Steps.Select(s => s switch
        {
            { Status: StepStatus.Running, Phase: StepPhase.Commanded } when e.StepOf(s.Step).Kind == StepKind.PowerOff =>
                s with { Phase = StepPhase.AwaitingEmpty, Outstanding = false },
            { Status: StepStatus.Running, Phase: StepPhase.Commanded } => s with { Status = StepStatus.Pending, Phase = StepPhase.None, Outstanding = false },
            { Status: StepStatus.Running, Phase: StepPhase.ConfirmingOff } => s with { Outstanding = false },
            _ => s,
        });
        return e with { Steps = [.. steps] };
    }

    /// <summary>An operator cancelled the plan: nothing more starts; running steps end on their own.</summary>
    public static PlanExecution Cancel(PlanExecution e, DateTimeOffset now) =>
        e.IsFinished ? e : e with { State = PlanState.Cancelled, EndedAt = now, Failure = "cancelled by an operator" };

    /// <summary>
    /// The next commands for the fleet as it is now, and the plan's new state. Call it after recording outcomes and
    /// whenever the fleet may have changed (a host reported); commands it returns are marked outstanding, so calling
    /// it again before their outcomes arrive issues nothing twice.
    /// </summary>
    public static (PlanExecution Execution, IReadOnlyList<ExecutionCommand> Commands) Advance(PlanExecution e, IExecutionView view, Rules.Policy policy)
    {
        var commands = new List<ExecutionCommand>();
        while (!e.IsFinished)
        {
            if (e.Steps.FirstOrDefault(s => s.Status == StepStatus.Failed) is { } failed)
                return (e with { State = PlanState.Failed, EndedAt = view.Now, Failure = failed.Detail }, commands);
            var wave = e.Plan.Where(s => s.Wave == e.Wave).ToList();
            if (wave.All(s => e.Progress(s.Step).Status == StepStatus.Completed))
            {
                var next = e.Plan.Where(s => s.Wave > e.Wave).Select(s => s.Wave).DefaultIfEmpty(-1).Min();
                if (next < 0) return (e with { State = PlanState.Succeeded, EndedAt = view.Now }, commands);
                e = StartWave(e with { Wave = next }, view, policy, commands);
                continue;
            }
            foreach (var step in wave) e = Continue(e, step, view, policy, commands);
            // A step that completed or failed just now changes the picture: look again; otherwise wait for outcomes.
            if (!e.Steps.Any(s => s.Status == StepStatus.Failed) && !wave.All(s => e.Progress(s.Step).Status == StepStatus.Completed)) break;
        }
        return (e, commands);
    }

    /// <summary>Checks the wave's migrations against the fleet now, each beside the others, and starts them.</summary>
    private static PlanExecution StartWave(PlanExecution e, IExecutionView view, Rules.Policy policy, List<ExecutionCommand> commands)
    {
        var migrations = e.Plan.Where(s => s.Wave == e.Wave && s.Kind == StepKind.Migrate).ToList();
        if (migrations.Count == 0) return e;
        var engine = new PlacementEngine(view.Fleet(), policy);
        var s = engine.State;
        var moving = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in view.InFlight)
        {
            moving.Add(m.Guest);
            if (s.TryGetHostIndex(m.To, out var to) && s.Snapshot.FindGuest(m.Guest) is { } g) s.Add(s.Demand(g with { Host = m.To }), to, reserved: true);
        }
        foreach (var step in migrations)
        {
            var guest = s.Snapshot.FindGuest(step.Guest!);
            var problem = guest is null ? $"guest {step.Guest} no longer runs on any reachable host"
                : guest.Host != step.From ? $"guest {step.Guest} runs on {guest.Host}, not {step.From}"
                : moving.Contains(step.Guest!) ? $"guest {step.Guest} is already migrating"
                : !s.TryGetHostIndex(step.Host, out _) ? $"host {step.Host} is not reachable"
                : engine.Evaluate(guest, step.Host) is { Count: > 0 } why ? $"host {step.Host} cannot take {step.Guest} now: {string.Join("; ", why)}"
                : null;
            if (problem is not null)
            {
                e = e.With(Fail(e.Progress(step.Step), view.Now, $"{step} no longer holds: {problem}"));
                continue;
            }
            s.Add(s.Demand(guest! with { Host = step.Host }), s.HostIndex(step.Host), reserved: true);
            moving.Add(step.Guest!);
            commands.Add(new StartMigration(step.Step, step.Guest!, step.From!, step.Host));
            e = e.With(e.Progress(step.Step) with { Status = StepStatus.Running, Phase = StepPhase.Migrating, Since = view.Now, Outstanding = true });
        }
        return e;
    }

    private static PlanExecution Continue(PlanExecution e, PlanStep step, IExecutionView view, Rules.Policy policy, List<ExecutionCommand> commands)
    {
        var s = e.Progress(step.Step);
        if (s.Status is StepStatus.Completed or StepStatus.Failed || s.Outstanding) return e;
        var now = view.Now;
        var host = view.Host(step.Host);
        switch (step.Kind)
        {
            case StepKind.PowerOn when s.Status == StepStatus.Pending:
                if (host is { Power: PowerState.On, ReportedAt: not null })
                    return e.With(s with { Status = StepStatus.Completed, EndedAt = now, Detail = "already on" });
                commands.Add(new PowerOnHost(step.Step, step.Host));
                return e.With(s with { Status = StepStatus.Running, Phase = StepPhase.Commanded, Since = now, Outstanding = true });
            case StepKind.PowerOn when s.Phase == StepPhase.Booting:
                if (host is { Power: PowerState.On, ReportedAt: { } at } && at >= s.Since)
                    return e.With(s with { Status = StepStatus.Completed, EndedAt = now, Detail = "reported as on" });
                if (now - s.Since > TimeSpan.FromMinutes(policy.Power.BootTimeoutMinutes))
                    return e.With(Fail(s, now, $"{step} failed: the host did not report as on within {policy.Power.BootTimeoutMinutes:0.##} min"));
                return e;
            case StepKind.PowerOff when s.Status == StepStatus.Pending:
                if (host is { Power: PowerState.Off or PowerState.Standby })
                    return e.With(s with { Status = StepStatus.Completed, EndedAt = now, Detail = "already off" });
                return AwaitEmpty(e, s with { Status = StepStatus.Running, Phase = StepPhase.AwaitingEmpty, Since = now }, step, host, view, policy, commands);
            case StepKind.PowerOff when s.Phase == StepPhase.AwaitingEmpty:
                return AwaitEmpty(e, s, step, host, view, policy, commands);
            case StepKind.PowerOff when s.Phase == StepPhase.ConfirmingOff:
                if (now - s.Since > TimeSpan.FromMinutes(policy.Power.PowerOffTimeoutMinutes))
                    return e.With(Fail(s, now, $"{step} failed: {s.Detail ?? "the power controller does not say off"} {policy.Power.PowerOffTimeoutMinutes:0.##} min after the command"));
                if (s.PolledAt is { } polled && now - polled < StatusPollInterval) return e;
                commands.Add(new ReadPowerStatus(step.Step, step.Host));
                return e.With(s with { Outstanding = true, PolledAt = now });
            default:
                return e;
        }
    }

    private static PlanExecution AwaitEmpty(PlanExecution e, StepExecution s, PlanStep step, HostSighting? host, IExecutionView view, Rules.Policy policy, List<ExecutionCommand> commands)
    {
        if (WhyNotEmpty(e, step, host, view) is not { } wait)
        {
            commands.Add(new PowerOffHost(step.Step, step.Host));
            return e.With(s with { Phase = StepPhase.Commanded, Since = view.Now, Outstanding = true, Detail = null });
        }
        if (view.Now - s.Since > TimeSpan.FromMinutes(policy.Power.PowerOffTimeoutMinutes))
            return e.With(Fail(s, view.Now, $"{step} failed: {wait} after {policy.Power.PowerOffTimeoutMinutes:0.##} min"));
        return e.With(s with { Detail = wait });
    }

    /// <summary>Why the host cannot be powered off yet, or null when it can.</summary>
    private static string? WhyNotEmpty(PlanExecution e, PlanStep step, HostSighting? host, IExecutionView view)
    {
        if (host?.ReportedAt is not { } reported) return $"host {step.Host} is not reporting";
        if (host.Guests.Count > 0) return $"host {step.Host} still runs {string.Join(", ", host.Guests.Order(StringComparer.Ordinal))}";
        if (view.InFlight.FirstOrDefault(m => m.From == step.Host || m.To == step.Host) is { } m) return $"migration of {m.Guest} {m.From} → {m.To} is under way";
        // The host's own word that it is empty must come after the last guest left it.
        var lastLeft = e.Plan.Where(p => p.Kind == StepKind.Migrate && p.From == step.Host)
            .Select(p => e.Progress(p.Step).EndedAt).Where(t => t is not null).DefaultIfEmpty(null).Max();
        if (lastLeft is { } left && reported < left) return $"host {step.Host} has not reported since its last guest left";
        return null;
    }

    private static StepExecution Fail(StepExecution s, DateTimeOffset now, string reason) =>
        s with { Status = StepStatus.Failed, Outstanding = false, EndedAt = now, Detail = reason };
}
