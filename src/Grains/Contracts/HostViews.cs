using KvmCluster.Policies.Model;

namespace KvmCluster.Grains.Contracts;

/// <summary>
/// What a host grain pushes to the scheduler: the host as the placement core sees it (its labels included), its guests
/// each with the usage history the host sampled (as many samples as the active policy reads), and whether its driver
/// can run guests at all.
/// </summary>
[GenerateSerializer, Immutable, Alias("kvm.HostReport")]
public sealed record HostReport(
    [property: Id(0)] Host Host,
    [property: Id(1)] IReadOnlyList<Guest> Guests,
    [property: Id(2)] string Driver,
    [property: Id(3)] string? DriverProblem,
    [property: Id(4)] DateTimeOffset At,
    [property: Id(5)] string Silo)
{
    /// <summary>The host's CPU use (MHz) at each sample, oldest first: the sum of its guests' samples.</summary>
    [Id(6)] public IReadOnlyList<double> CpuHistoryMhz { get; init; } = [];
    /// <summary>Seconds of fleet time between two samples.</summary>
    [Id(7)] public double SampleSeconds { get; init; } = 300;
    /// <summary>When the host last sampled its guests (null: never yet).</summary>
    [Id(8)] public DateTimeOffset? SampledAt { get; init; }
    /// <summary>Guests whose copy here is in a migration (sending, or adopted mid-migration and not yet settled): the
    /// migration decides about them, reconciliation does not.</summary>
    [Id(9)] public IReadOnlyList<string> InMigration { get; init; } = [];
}

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
    [property: Id(8)] int UsedVCpus)
{
    /// <summary>on, standby or off: from the host's own report, or from the power controller while it does not report.</summary>
    [Id(9)] public string Power { get; init; } = "on";
    [Id(10)] public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    /// <summary>Samples of usage history the host keeps per guest now, and its CPU history (MHz, oldest first).</summary>
    [Id(11)] public int HistorySamples { get; init; }
    [Id(12)] public IReadOnlyList<double> CpuHistoryMhz { get; init; } = [];
    /// <summary>When the host last sampled its guests' usage (fleet time).</summary>
    [Id(13)] public DateTimeOffset? SampledAt { get; init; }
}

/// <summary>Labels to set and keys to remove on a host (`kvmcluster label HOST zone=a rack-`).</summary>
[GenerateSerializer, Immutable, Alias("kvm.LabelChange")]
public sealed record LabelChange(
    [property: Id(0)] IReadOnlyDictionary<string, string>? Set = null,
    [property: Id(1)] IReadOnlyList<string>? Remove = null)
{
    public IEnumerable<(string Field, string Message)> Problems()
    {
        foreach (var (k, v) in Set ?? new Dictionary<string, string>())
        {
            if (HostLabel.KeyProblem(k) is { } p) yield return ("set", p);
            else if (HostLabel.ValueProblem(k, v) is { } q) yield return ("set", q);
        }
        foreach (var k in Remove ?? [])
            if (HostLabel.KeyProblem(k) is { } p) yield return ("remove", p);
        if ((Set?.Count ?? 0) + (Remove?.Count ?? 0) == 0) yield return ("set", "give at least one label to set or remove");
        foreach (var k in Remove ?? [])
            if (Set?.ContainsKey(k) == true) yield return ("remove", $"label {k} is both set and removed");
    }
}
