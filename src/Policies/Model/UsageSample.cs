namespace KvmCluster.Policies.Model;

/// <summary>
/// One measurement of a guest over a sample interval: its mean CPU demand (MHz), its resident memory (MiB) and how
/// fast it dirtied memory (MiB/s). A host agent takes one per guest every sample interval; the simulator takes the
/// same from its datacenter at the same instants, so live and replayed snapshots carry the same kind of history.
/// </summary>
public readonly record struct UsageSample(double CpuMhz, double MemoryMiB, double DirtyMiBps);
