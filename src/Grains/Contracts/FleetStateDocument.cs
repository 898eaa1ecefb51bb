using KvmCluster.Policies.Model;

namespace KvmCluster.Grains.Contracts;

/// <summary>
/// The fleet's state as an operator handles it (`kvmcluster state export|import`): policies, guest records, plans,
/// operators' host settings, tokens (hashes only), events and migration records, in one JSON document. Taken in one
/// turn of the scheduler, so no placement, plan or operator migration starts while it is read; a migration already
/// under way is recorded as it stood, and after an import the hosts' inventories settle where its guest runs.
/// </summary>
[GenerateSerializer, Immutable, Alias("kvm.FleetStateDocument")]
public sealed record FleetStateDocument(
    [property: Id(0)] string Format,
    [property: Id(1)] DateTimeOffset ExportedAt,
    [property: Id(2)] IReadOnlyList<PolicyRecord> Policies,
    [property: Id(3)] ActivePolicyRecord? ActivePolicy,
    [property: Id(4)] IReadOnlyList<GuestRecord> Guests,
    [property: Id(5)] IReadOnlyList<PlanView> Plans,
    [property: Id(6)] IReadOnlyList<HostSettings> Hosts,
    [property: Id(7)] IReadOnlyList<TokenRecord> Tokens,
    [property: Id(8)] IReadOnlyList<EventRecord> Events,
    [property: Id(9)] IReadOnlyList<MigrationView> Migrations,
    [property: Id(10)] IReadOnlyList<string> Notes)
{
    /// <summary>The document's format; an import refuses any other.</summary>
    public const string CurrentFormat = "kvmcluster-state/1";
}

/// <summary>One version of a policy document, as submitted.</summary>
[GenerateSerializer, Immutable, Alias("kvm.PolicyRecord")]
public sealed record PolicyRecord(
    [property: Id(0)] string Name,
    [property: Id(1)] int Version,
    [property: Id(2)] string Text,
    [property: Id(3)] DateTimeOffset SubmittedAt);

[GenerateSerializer, Immutable, Alias("kvm.ActivePolicyRecord")]
public sealed record ActivePolicyRecord([property: Id(0)] string Name, [property: Id(1)] int Version);

/// <summary>A guest's record: its spec, where the record says it runs, and its history.</summary>
[GenerateSerializer, Immutable, Alias("kvm.GuestRecord")]
public sealed record GuestRecord(
    [property: Id(0)] Guest Spec,
    [property: Id(1)] string? Host,
    [property: Id(2)] GuestStatus Status,
    [property: Id(3)] string? Migration,
    [property: Id(4)] DateTimeOffset UpdatedAt,
    [property: Id(5)] IReadOnlyList<EventRecord> History);

/// <summary>What operators set on a host through the API (maintenance, labels set and configured labels removed).</summary>
[GenerateSerializer, Immutable, Alias("kvm.HostSettings")]
public sealed record HostSettings(
    [property: Id(0)] string Name,
    [property: Id(1)] bool Maintenance,
    [property: Id(2)] IReadOnlyDictionary<string, string> Labels,
    [property: Id(3)] IReadOnlyList<string> RemovedLabels);

/// <summary>A token as stored: the SHA-256 of its secret (never the secret) and what it may do.</summary>
[GenerateSerializer, Immutable, Alias("kvm.TokenRecord")]
public sealed record TokenRecord([property: Id(0)] string SecretHash, [property: Id(1)] TokenView Token);

/// <summary>What an import restored, and what it could not (hosts that did not answer, say).</summary>
[GenerateSerializer, Immutable, Alias("kvm.StateImported")]
public sealed record StateImported(
    [property: Id(0)] int Policies,
    [property: Id(1)] int Guests,
    [property: Id(2)] int Plans,
    [property: Id(3)] int Hosts,
    [property: Id(4)] int Tokens,
    [property: Id(5)] int Events,
    [property: Id(6)] IReadOnlyList<string> Notes);
