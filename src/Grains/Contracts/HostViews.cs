using KvmCluster.Policies.Model;

namespace KvmCluster.Grains.Contracts;

/// <summary>
/// What a host grain pushes to the scheduler: the host as the placement core sees it, its guests with their latest
/// usage, and whether its driver can run guests at all.
/// </summary>
[GenerateSerializer, Immutable, Alias("kvm.HostReport")]
public sealed record HostReport(
    [property: Id(0)] Host Host,
    [property: Id(1)] IReadOnlyList<Guest> Guests,
    [property: Id(2)] string Driver,
    [property: Id(3)] string? DriverProblem,
    [property: Id(4)] DateTimeOffset At,
    [property: Id(5)] string Silo);

/// <summary>A host as the API shows it.</summary>
[GenerateSerializer, Immutable, Alias("kvm.HostView")]
public sealed record HostView(
    [property: Id(0)] string Name,
    [property: Id(1)] Host Facts,
    [property: Id(2)] IReadOnlyList<string> Guests,
    [property: Id(3)] bool Reachable,
    [property: Id(4)] string Driver,
    [property: Id(5)] string? DriverProblem,
    [property: Id(6)] DateTimeOffset ReportedAt,
    [property: Id(7)] long UsedMemoryMiB,
    [property: Id(8)] int UsedVCpus);
