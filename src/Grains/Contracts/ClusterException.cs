namespace KvmCluster.Grains.Contracts;

/// <summary>What went wrong with a request, in terms the API turns into problem details.</summary>
public enum ProblemKind
{
    Invalid,
    NotFound,
    Conflict,
    Unavailable,
}

/// <summary>
/// A request the cluster refuses for a reason the caller can act on (bad field, unknown guest, host down).
/// Crosses grain calls intact; the API maps it to RFC 7807 problem details.
/// </summary>
[GenerateSerializer, Alias("kvm.ClusterException")]
public sealed class ClusterException : Exception
{
    [Id(0)] public ProblemKind Kind { get; init; }
    [Id(1)] public string? Field { get; init; }
    [Id(2)] public string Detail { get; init; } = "";

    public ClusterException() { }

    public ClusterException(ProblemKind kind, string detail, string? field = null) : base(detail)
    {
        Kind = kind; Detail = detail; Field = field;
    }

    public override string Message => Detail;

    public static ClusterException NotFound(string what) => new(ProblemKind.NotFound, what);
    public static ClusterException Invalid(string detail, string? field = null) => new(ProblemKind.Invalid, detail, field);
    public static ClusterException Conflict(string detail, string? field = null) => new(ProblemKind.Conflict, detail, field);
    public static ClusterException Unavailable(string detail) => new(ProblemKind.Unavailable, detail);
}
