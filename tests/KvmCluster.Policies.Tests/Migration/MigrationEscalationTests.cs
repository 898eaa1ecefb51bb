using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Tests;

public sealed class MigrationEscalationTests
{
    private static readonly MigrationSettings Settings = new() { DowntimeMs = 300, MaxDowntimeMs = 1200, AllowPostCopy = true };

    [Fact]
    public void A_converging_migration_is_left_alone()
    {
        var s = EscalationState.Start(Settings);
        var d = MigrationEscalation.Next(Settings, s, 3, remainingMiB: 100);
        Assert.Equal(EscalationStep.None, d.Step); // first look only records where it stands
        d = MigrationEscalation.Next(Settings, d.State, 6, remainingMiB: 60);
        Assert.Equal(EscalationStep.None, d.Step);
        Assert.Equal("converging", d.Reason);
        Assert.Equal(EscalationStep.None, MigrationEscalation.Next(Settings, d.State, 7, remainingMiB: 60).Step); // inside the window
    }

    [Fact]
    public void A_stalled_migration_raises_the_downtime_in_three_steps_then_goes_post_copy()
    {
        var d = MigrationEscalation.Next(Settings, EscalationState.Start(Settings), 3, 100);
        var steps = new List<(EscalationStep, int)>();
        for (var t = 6; t <= 18; t += 3)
        {
            d = MigrationEscalation.Next(Settings, d.State, t, 100);
            steps.Add((d.Step, d.State.DowntimeMs));
        }
        Assert.Equal([(EscalationStep.RaiseDowntime, 600), (EscalationStep.RaiseDowntime, 900), (EscalationStep.RaiseDowntime, 1200),
            (EscalationStep.StartPostCopy, 1200), (EscalationStep.None, 1200)], steps);
    }

    [Fact]
    public void Without_post_copy_a_stalled_migration_at_the_ceiling_is_cancelled()
    {
        var settings = Settings with { MaxDowntimeMs = 300, AllowPostCopy = false };
        var d = MigrationEscalation.Next(settings, EscalationState.Start(settings), 3, 100);
        d = MigrationEscalation.Next(settings, d.State, 6, 95);
        Assert.Equal(EscalationStep.Cancel, d.Step);
        Assert.Contains("post-copy is not allowed", d.Reason);
    }

    [Fact]
    public void A_guest_whose_disks_are_copied_never_switches_to_post_copy()
    {
        var shared = new Model.Guest { Name = "s", VCpus = 1, MemoryMiB = 512, Disks = [new Model.GuestDisk(Model.DiskKind.Shared, "/mnt/vm", Image: "/mnt/vm/s.qcow2")] };
        var overlay = shared with { Disks = [.. shared.Disks, new Model.GuestDisk(Model.DiskKind.Overlay, Image: "/images/base.qcow2")] };
        Assert.True(Settings.For(shared).AllowPostCopy);
        Assert.False(Settings.For(overlay).AllowPostCopy);
        Assert.Equal(Settings with { AllowPostCopy = false }, Settings.For(overlay)); // nothing else changes
        // The planner predicts such a move as the executor runs it.
        Assert.NotNull(MigrationPlanning.Escalation(shared, Settings).PostCopyAfterSeconds);
        Assert.Null(MigrationPlanning.Escalation(overlay, Settings).PostCopyAfterSeconds);
    }
}
