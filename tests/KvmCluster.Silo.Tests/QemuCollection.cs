namespace KvmCluster.Silo.Tests;

/// <summary>
/// The tests that run real QEMU guests: one at a time (2 cores hold ~3 TCG guests), and never beside the other test
/// classes — the migration model check measures transfer times, which CPU contention would distort.
/// </summary>
[CollectionDefinition("qemu", DisableParallelization = true)]
public sealed class QemuCollection;
