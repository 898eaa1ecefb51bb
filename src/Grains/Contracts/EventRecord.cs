namespace KvmCluster.Grains.Contracts;

/// <summary>One decision or action with its reasons ("why did guest X move to host Y?").</summary>
[GenerateSerializer, Immutable, Alias("kvm.EventRecord")]
public sealed record EventRecord(
    [property: Id(0)] long Sequence,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] string Kind,
    [property: Id(3)] string Subject,
    [property: Id(4)] string Message,
    [property: Id(5)] IReadOnlyList<string> Reasons)
{
    /// <summary>The token's name whose request this records (audit events), or null for the cluster's own decisions.</summary>
    [Id(6)] public string? Actor { get; init; }
}

[GenerateSerializer, Immutable, Alias("kvm.PolicyVersionView")]
public sealed record PolicyVersionView(
    [property: Id(0)] string Name,
    [property: Id(1)] int Version,
    [property: Id(2)] string Text,
    [property: Id(3)] DateTimeOffset SubmittedAt,
    [property: Id(4)] bool Active,
    [property: Id(5)] string Balancer,
    [property: Id(6)] string Automation);
