namespace KvmCluster.Grains.Contracts;

/// <summary>
/// Host-level memory settings an operator changes: reserve a number of hugepages of one size (the pool), KSM
/// (run, pages_to_scan, sleep_millisecs) and transparent hugepages (enabled, defrag). Unset values stay as they are.
/// </summary>
[GenerateSerializer, Immutable, Alias("kvm.HostTuning")]
public sealed record HostTuning(
    [property: Id(0)] int? HugepageSizeKiB = null,
    [property: Id(1)] long? HugepagePages = null,
    [property: Id(2)] bool? KsmRun = null,
    [property: Id(3)] int? KsmPagesToScan = null,
    [property: Id(4)] int? KsmSleepMillisecs = null,
    [property: Id(5)] string? ThpEnabled = null,
    [property: Id(6)] string? ThpDefrag = null)
{
    public IEnumerable<(string Field, string Message)> Problems()
    {
        if (HugepagePages is not null && HugepageSizeKiB is not (2048 or 1048576)) yield return ("hugepageSizeKiB", "2048 (2 MiB) or 1048576 (1 GiB) is required with hugepagePages");
        if (HugepagePages is < 0 or > 10_000_000) yield return ("hugepagePages", "must be 0..10000000");
        if (KsmPagesToScan is < 1 or > 100_000) yield return ("ksmPagesToScan", "must be 1..100000");
        if (KsmSleepMillisecs is < 1 or > 60_000) yield return ("ksmSleepMillisecs", "must be 1..60000");
        if (ThpEnabled is not null && !KvmCluster.Policies.Model.ThpState.EnabledValues.Contains(ThpEnabled))
            yield return ("thpEnabled", $"must be one of {string.Join(", ", KvmCluster.Policies.Model.ThpState.EnabledValues)}");
        if (ThpDefrag is not null && !KvmCluster.Policies.Model.ThpState.DefragValues.Contains(ThpDefrag))
            yield return ("thpDefrag", $"must be one of {string.Join(", ", KvmCluster.Policies.Model.ThpState.DefragValues)}");
    }
}
