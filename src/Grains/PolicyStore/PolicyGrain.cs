using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Events;
using KvmCluster.Grains.Ports;
using KvmCluster.Policies.Documents;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Grains.PolicyStore;

[GenerateSerializer, Alias("kvm.PolicyStoreState")]
public sealed class PolicyStoreState
{
    [Id(0)] public List<StoredPolicy> Versions { get; set; } = [];
    [Id(1)] public string? ActiveName { get; set; }
    [Id(2)] public int ActiveVersion { get; set; }
}

[GenerateSerializer, Alias("kvm.StoredPolicy")]
public sealed record StoredPolicy([property: Id(0)] string Name, [property: Id(1)] int Version, [property: Id(2)] string Text, [property: Id(3)] DateTimeOffset SubmittedAt);

/// <summary>Policy documents: validated on submit, every version kept, one active at a time.</summary>
public sealed class PolicyGrain(
    [PersistentState("policies", StorageNames.Store)] IPersistentState<PolicyStoreState> state,
    FleetClock clock) : Grain, IPolicyGrain
{
    public async Task<PolicyVersionView> Submit(string text, string source)
    {
        Policy policy;
        try { policy = PolicyDocument.Parse(text, source); }
        catch (DocumentException e)
        {
            var first = e.Errors.Count > 0 ? e.Errors[0] : null;
            throw ClusterException.Invalid(string.Join("; ", e.Errors.Select(x => x.ToString())), first?.Path);
        }
        var version = state.State.Versions.Where(v => v.Name == policy.Name).Select(v => v.Version).DefaultIfEmpty(0).Max() + 1;
        var stored = new StoredPolicy(policy.Name, version, text, clock.Now);
        state.State.Versions.Add(stored);
        await state.WriteStateAsync();
        await GrainFactory.Record(Events.Events.New(stored.SubmittedAt, "policy-submitted", policy.Name, $"policy {policy.Name} version {version} submitted"));
        return View(stored);
    }

    public Task<IReadOnlyList<PolicyVersionView>> List() => Task.FromResult<IReadOnlyList<PolicyVersionView>>(
        state.State.Versions.GroupBy(v => v.Name).Select(g => View(g.MaxBy(v => v.Version)!)).OrderBy(v => v.Name, StringComparer.Ordinal).ToList());

    public Task<IReadOnlyList<PolicyVersionView>> Show(string name)
    {
        var versions = state.State.Versions.Where(v => v.Name == name).Select(View).ToList();
        if (versions.Count == 0) throw ClusterException.NotFound($"no policy named '{name}'");
        return Task.FromResult<IReadOnlyList<PolicyVersionView>>(versions);
    }

    public async Task<PolicyVersionView> Activate(string name, int? version)
    {
        var candidates = state.State.Versions.Where(v => v.Name == name).ToList();
        // A built-in name (default, power-saving, lr-mmt-1.2, …) is stored on first use as a complete document, so
        // the active policy is always a version the operator can read back.
        if (candidates.Count == 0 && version is null && BuiltInPolicies.TryGet(name, out var builtIn))
        {
            await Submit(PolicyWriter.ToYaml(builtIn), "built-in");
            candidates = [.. state.State.Versions.Where(v => v.Name == name)];
        }
        if (candidates.Count == 0)
            throw ClusterException.NotFound($"no policy named '{name}' (submit one, or use a built-in name: {string.Join(", ", BuiltInPolicies.Names)}, or detector-selection-parameter such as lr-mmt-1.2)");
        var chosen = version is { } n ? candidates.FirstOrDefault(v => v.Version == n) : candidates.MaxBy(v => v.Version);
        if (chosen is null) throw ClusterException.NotFound($"policy '{name}' has no version {version}");
        state.State.ActiveName = chosen.Name;
        state.State.ActiveVersion = chosen.Version;
        await state.WriteStateAsync();
        await GrainFactory.GetGrain<ISchedulerGrain>(Cluster.Key).PolicyChanged();
        await GrainFactory.Record(Events.Events.New(clock.Now, "policy-activated", name, $"policy {name} version {chosen.Version} is active"));
        return View(chosen);
    }

    public Task<PolicyVersionView?> Active()
    {
        var s = state.State;
        var active = s.Versions.FirstOrDefault(v => v.Name == s.ActiveName && v.Version == s.ActiveVersion);
        return Task.FromResult(active is null ? null : View(active));
    }

    public Task<int> UsageWindow(double sampleSeconds)
    {
        var s = state.State;
        var active = s.Versions.FirstOrDefault(v => v.Name == s.ActiveName && v.Version == s.ActiveVersion);
        return Task.FromResult(KvmCluster.Policies.Balancing.UsageWindow.Samples(active is null ? Policy.Default : Parsed(active), sampleSeconds));
    }

    public Task<(IReadOnlyList<PolicyRecord> Versions, ActivePolicyRecord? Active)> Export() => Task.FromResult<(IReadOnlyList<PolicyRecord>, ActivePolicyRecord?)>((
        [.. state.State.Versions.Select(v => new PolicyRecord(v.Name, v.Version, v.Text, v.SubmittedAt))],
        state.State.ActiveName is { } name ? new ActivePolicyRecord(name, state.State.ActiveVersion) : null));

    public async Task<int> Import(IReadOnlyList<PolicyRecord> versions, ActivePolicyRecord? active)
    {
        if (state.State.Versions.Count > 0) throw ClusterException.Conflict($"the cluster has {state.State.Versions.Count} policy versions: import into a cluster without policies");
        foreach (var (field, message) in Problems(versions, active)) throw ClusterException.Invalid(message, field);
        state.State.Versions = [.. versions.Select(v => new StoredPolicy(v.Name, v.Version, v.Text, v.SubmittedAt))];
        state.State.ActiveName = active?.Name;
        state.State.ActiveVersion = active?.Version ?? 0;
        await state.WriteStateAsync();
        await GrainFactory.GetGrain<ISchedulerGrain>(Cluster.Key).PolicyChanged();
        return versions.Count;
    }

    /// <summary>
    /// What is wrong with exported versions, by the document's field names: each text is parsed again, as a
    /// submission would be, so an edited document cannot smuggle in a policy the API would refuse.
    /// </summary>
    public static IEnumerable<(string Field, string Message)> Problems(IReadOnlyList<PolicyRecord> versions, ActivePolicyRecord? active)
    {
        var seen = new HashSet<(string, int)>();
        for (var i = 0; i < versions.Count; i++)
        {
            var v = versions[i];
            var field = $"policies[{i}]";
            Policy? policy = null;
            string? error = null;
            try { policy = PolicyDocument.Parse(v.Text ?? "", $"{field}.text"); }
            catch (DocumentException e) { error = string.Join("; ", e.Errors.Select(x => x.ToString())); }
            if (error is not null) { yield return ($"{field}.text", error); continue; }
            if (policy!.Name != v.Name) yield return ($"{field}.name", $"the document is named '{policy.Name}', the record '{v.Name}'");
            if (v.Version < 1) yield return ($"{field}.version", "a version is 1 or more");
            else if (!seen.Add((v.Name, v.Version))) yield return ($"{field}.version", $"policy {v.Name} version {v.Version} is given twice");
        }
        if (active is not null && !seen.Contains((active.Name, active.Version)))
            yield return ("activePolicy", $"the active policy {active.Name} version {active.Version} is not among the versions");
    }

    private Policy Parsed(StoredPolicy p)
    {
        if (!_parsed.TryGetValue((p.Name, p.Version), out var policy)) _parsed[(p.Name, p.Version)] = policy = PolicyDocument.Parse(p.Text, p.Name);
        return policy;
    }

    private readonly Dictionary<(string, int), Policy> _parsed = [];

    private PolicyVersionView View(StoredPolicy p)
    {
        // Parsed once per version: the scheduler asks for the active policy on every placement.
        var policy = Parsed(p);
        return new PolicyVersionView(p.Name, p.Version, p.Text, p.SubmittedAt,
            p.Name == state.State.ActiveName && p.Version == state.State.ActiveVersion,
            policy.Kind.ToString(), policy.Automation.ToString());
    }
}
