namespace KvmCluster.Policies.Model;

/// <summary>
/// Transparent hugepages as the host's kernel has them (/sys/kernel/mm/transparent_hugepage/enabled and defrag): THP
/// backs guest memory with 2 MiB pages without a pool; "always" with defrag stalls is the handbook's latency warning.
/// </summary>
public sealed record ThpState(string Enabled = "unknown", string Defrag = "unknown")
{
    public static readonly IReadOnlyList<string> EnabledValues = ["always", "madvise", "never"];
    public static readonly IReadOnlyList<string> DefragValues = ["always", "defer", "defer+madvise", "madvise", "never"];
    public static readonly ThpState Unknown = new();
}
