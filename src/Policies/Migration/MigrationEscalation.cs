using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Migration;

public enum EscalationStep
{
    None,
    RaiseDowntime,
    StartPostCopy,
    Cancel,
}

/// <summary>Where a running migration stands on its escalation schedule.</summary>
public sealed record EscalationState(int DowntimeMs, bool PostCopy, double LastLookSeconds, double RemainingAtLastLookMiB)
{
    public static EscalationState Start(MigrationSettings settings) => new(settings.DowntimeMs, false, 0, double.PositiveInfinity);
}

public sealed record EscalationDecision(EscalationStep Step, EscalationState State, string Reason);

/// <summary>
/// The escalation schedule of a live migration that stops converging, like oVirt's and Nova's migration policies:
/// every <c>window</c> seconds without real progress (the data still to send fell by less than a quarter) the
/// downtime limit goes up a third of the way from the policy's initial value to its maximum; at the maximum,
/// post-copy if the policy allows it (it always finishes, but a network failure during it loses the guest — hence
/// opt-in); otherwise the migration is cancelled and the guest stays on its source. Auto-converge, when allowed,
/// is on from the start: QEMU cannot switch it on mid-migration and throttles only guests that outrun the link.
/// </summary>
public static class MigrationEscalation
{
    public static EscalationDecision Next(MigrationSettings settings, EscalationState state, double elapsedSeconds, double remainingMiB, double window = 3)
    {
        if (state.PostCopy || elapsedSeconds - state.LastLookSeconds < window)
            return new EscalationDecision(EscalationStep.None, state, "");
        var looked = state with { LastLookSeconds = elapsedSeconds, RemainingAtLastLookMiB = remainingMiB };
        if (remainingMiB < state.RemainingAtLastLookMiB * 0.75)
            return new EscalationDecision(EscalationStep.None, looked, "converging");
        var stall = $"{remainingMiB:0} MiB still to send after {elapsedSeconds:0} s (was {state.RemainingAtLastLookMiB:0} MiB {window:0} s ago)";
        if (state.DowntimeMs < settings.MaxDowntimeMs)
        {
            var step = Math.Max(1, (int)Math.Ceiling((settings.MaxDowntimeMs - settings.DowntimeMs) / 3.0));
            var raised = Math.Min(settings.MaxDowntimeMs, state.DowntimeMs + step);
            return new EscalationDecision(EscalationStep.RaiseDowntime, looked with { DowntimeMs = raised },
                $"not converging ({stall}): downtime limit {state.DowntimeMs} → {raised} ms");
        }
        if (settings.AllowPostCopy)
            return new EscalationDecision(EscalationStep.StartPostCopy, looked with { PostCopy = true },
                $"not converging at the maximum downtime {settings.MaxDowntimeMs} ms ({stall}): switching to post-copy");
        return new EscalationDecision(EscalationStep.Cancel, looked,
            $"not converging at the maximum downtime {settings.MaxDowntimeMs} ms and post-copy is not allowed ({stall}): cancelled, the guest stays on its source");
    }
}
