using KvmCluster.Policies.Migration;
using D = KvmCluster.Policies.Migration.DestinationFact;
using S = KvmCluster.Policies.Migration.SourceFact;

namespace KvmCluster.Policies.Tests.Migration;

/// <summary>
/// Every combination of what the two hosts can say, and what the migration's single decision point does with it. The
/// safety rules: nothing completes unless the destination holds the whole guest; a copy that may be the only one is
/// never discarded; a timeout alone never decides anything but "cancel the source" or "drop a copy that is not whole".
/// </summary>
public class MigrationProtocolTests
{
    public static TheoryData<SourceFact, DestinationFact, bool, double, Verdict> Cases() => new()
    {
        // The destination has it all: complete, whatever the source says (it may be dead after handing over).
        { S.Sending, D.Received, false, 0, Verdict.Complete },
        { S.HandedOver, D.Received, false, 0, Verdict.Complete },
        { S.Unreachable, D.Received, false, 0, Verdict.Complete },
        { S.Gone, D.Received, false, 0, Verdict.Complete },
        { S.Unreachable, D.Running, false, 0, Verdict.Complete },
        // Under way: wait, also when the source's silo is gone (its QEMU sends on its own).
        { S.Sending, D.Receiving, false, 0, Verdict.Wait },
        { S.Unreachable, D.Receiving, false, 0, Verdict.Wait },
        { S.HandedOver, D.Receiving, false, 0, Verdict.Wait },
        // The source stopped sending and runs the guest: fail (the incoming copy is not whole).
        { S.Running, D.Receiving, false, 0, Verdict.Fail },
        { S.Paused, D.Receiving, false, 0, Verdict.Fail },
        { S.Running, D.Unreachable, false, 0, Verdict.Fail },
        { S.Running, D.Gone, false, 0, Verdict.Fail },
        { S.Sending, D.Gone, false, 0, Verdict.Fail },
        { S.HandedOver, D.Gone, false, 0, Verdict.Fail }, // the source still has the guest, paused: it resumes
        // Past the deadline: cancel the source if it answers; drop the incoming copy only if it is not whole.
        { S.Sending, D.Receiving, true, 0, Verdict.CancelSource },
        { S.Sending, D.Unreachable, true, 0, Verdict.CancelSource },
        { S.Unreachable, D.Receiving, true, 0, Verdict.Fail },
        { S.Unreachable, D.Received, true, 0, Verdict.Complete }, // a deadline never discards a whole copy
        // Handed over to a silent destination: wait, then the source resumes (the destination's copy stays paused).
        { S.HandedOver, D.Unreachable, false, 10, Verdict.Wait },
        { S.HandedOver, D.Unreachable, true, 10, Verdict.Wait },
        { S.HandedOver, D.Unreachable, false, 60, Verdict.Fail },
        // Nobody answers, or the only possible copy is on a silent host: wait.
        { S.Unreachable, D.Unreachable, true, 600, Verdict.Wait },
        { S.Gone, D.Unreachable, true, 600, Verdict.Wait },
        { S.Unreachable, D.Gone, true, 600, Verdict.Wait },
        // No copy anywhere.
        { S.Gone, D.Gone, false, 0, Verdict.Lost },
        { S.Gone, D.Receiving, false, 0, Verdict.Lost },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_migration_is_decided_from_what_both_hosts_say(SourceFact source, DestinationFact destination, bool overdue, double destinationSilent, Verdict expected)
    {
        var d = MigrationProtocol.Decide(source, destination, overdue, destinationSilent: destinationSilent, graceSeconds: 60);
        Assert.Equal(expected, d.Verdict);
        Assert.False(string.IsNullOrWhiteSpace(d.Reason));
    }

    [Fact]
    public void Nothing_is_decided_complete_unless_the_destination_holds_the_whole_guest()
    {
        foreach (var s in Enum.GetValues<SourceFact>())
            foreach (var d in Enum.GetValues<DestinationFact>())
                foreach (var overdue in new[] { false, true })
                    if (MigrationProtocol.Decide(s, d, overdue, 1000, 1000).Verdict == Verdict.Complete)
                        Assert.True(d is D.Received or D.Running, $"{s}/{d} decided complete");
    }

    [Fact]
    public void A_switch_resumes_the_source_only_if_no_resume_ever_reached_the_destination()
    {
        Assert.Equal(Verdict.Complete, MigrationProtocol.DecideSwitching(S.HandedOver, D.Running, true).Verdict);
        Assert.Equal(Verdict.Wait, MigrationProtocol.DecideSwitching(S.HandedOver, D.Received, false).Verdict);
        Assert.Equal(Verdict.Fail, MigrationProtocol.DecideSwitching(S.HandedOver, D.Gone, resumedConfirmed: false).Verdict);
        Assert.Equal(Verdict.Lost, MigrationProtocol.DecideSwitching(S.HandedOver, D.Gone, resumedConfirmed: true).Verdict);
        Assert.Equal(Verdict.Wait, MigrationProtocol.DecideSwitching(S.Unreachable, D.Gone, false).Verdict);
        Assert.Equal(Verdict.Wait, MigrationProtocol.DecideSwitching(S.HandedOver, D.Unreachable, true).Verdict);
    }

    [Theory]
    [InlineData(MigrationDecided.Undecided, true, AdoptionVerdict.Keep)]
    [InlineData(MigrationDecided.Undecided, false, AdoptionVerdict.Keep)]
    [InlineData(MigrationDecided.Complete, true, AdoptionVerdict.Discard)]
    [InlineData(MigrationDecided.Complete, false, AdoptionVerdict.Resume)]
    [InlineData(MigrationDecided.Failed, true, AdoptionVerdict.Resume)]
    [InlineData(MigrationDecided.Failed, false, AdoptionVerdict.Discard)]
    public void A_restarted_host_does_with_its_copy_what_the_migration_decided(MigrationDecided decided, bool isSource, AdoptionVerdict expected) =>
        Assert.Equal(expected, MigrationProtocol.Adopt(decided, isSource));
}
