namespace KvmCluster.Grains.Contracts;

/// <summary>
/// Host-level memory settings an operator changes: reserve a number of hugepages of one size (the pool), and KSM
/// (run, pages_to_scan, sleep_millisecs). Unset values stay as they are.
/// </summary>
[GenerateSerializer, Immutable, Alias("kvm.HostTuning")]
public sealed record HostTuning(
    [property: Id(0)] int? HugepageSizeKiB = null,
    [property: Id(1)] long? HugepagePages = null,
    [property: Id(2)] bool? KsmRun = null,
    [property: Id(3)] int? KsmPagesToScan = null,
    [property: Id(4)] int? KsmSleepMillisecs = null)
{
    public IEnumerable<(string Field, string Message)> Problems()
    {
        if (HugepagePages is not null && HugepageSizeKiB is not (2048 or 1048576)) yield return ("hugepageSizeKiB", "2048 (2 MiB) or 1048576 (1 GiB) is required with hugepagePages");
        if (HugepagePages is < 0 or > 10_000_000) yield return ("hugepagePages", "must be 0..10000000");
        if (KsmPagesToScan is < 1 or > 100_000) yield return ("ksmPagesToScan", "must be 1..100000");
        if (KsmSleepMillisecs is < 1 or > 60_000) yield return ("ksmSleepMillisecs", "must be 1..60000");
    }
}
