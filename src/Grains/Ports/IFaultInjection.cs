namespace KvmCluster.Grains.Ports;

/// <summary>
/// Named points of the migration protocol where a fault-injection test may stop this silo (and then kill a silo, a
/// QEMU or Redis at exactly that step, as etcd's gofail and CockroachDB's testing knobs do). Off unless the silo is
/// started for such a test: then <see cref="At"/> waits while the test acts, and returns when it lets the silo go.
/// </summary>
public interface IFaultInjection
{
    Task At(string point, string guest);
}

/// <summary>The protocol steps a fault-injection test can stop at (docs/migration-protocol.md).</summary>
public static class FaultPoints
{
    /// <summary>The destination's paused incoming copy is ready; nothing sent yet.</summary>
    public const string DestinationPrepared = "destination-prepared";
    /// <summary>The local disks are being copied (drive-mirror), before the memory transfer.</summary>
    public const string DisksMirroring = "disks-mirroring";
    /// <summary>QEMU is sending memory.</summary>
    public const string TransferRunning = "transfer-running";
    /// <summary>The source is paused at the switch-over (pre-switchover), its disk copies not yet finished.</summary>
    public const string PausedAtSwitchover = "paused-at-switchover";
    /// <summary>The source QEMU says completed (postmigrate); the migration grain has not been told.</summary>
    public const string QemuCompleted = "qemu-completed";
    /// <summary>The migration grain decided and wrote Switching; the destination is not yet resumed.</summary>
    public const string GrainSwitching = "grain-switching";
    /// <summary>The migration is written Completed; the guest record and the scheduler not yet told.</summary>
    public const string Completed = "completed";

    public static readonly IReadOnlyList<string> All = [DestinationPrepared, DisksMirroring, TransferRunning, PausedAtSwitchover, QemuCompleted, GrainSwitching, Completed];
}

/// <summary>A production silo: no fault points.</summary>
public sealed class NoFaultInjection : IFaultInjection
{
    public static readonly NoFaultInjection Instance = new();
    public Task At(string point, string guest) => Task.CompletedTask;
}
