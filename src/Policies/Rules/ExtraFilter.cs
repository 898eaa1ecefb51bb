using System.Collections.Immutable;

namespace KvmCluster.Policies.Rules;

/// <summary>A filter a policy adds on top of the mandatory constraints.</summary>
public abstract record ExtraFilter
{
    public abstract string Id { get; }
}

/// <summary>Only hosts carrying every one of these labels.</summary>
public sealed record RequireHostLabelsFilter(ImmutableSortedDictionary<string, string> Labels) : ExtraFilter
{
    public override string Id => "require-host-labels";
}

/// <summary>Never these hosts (e.g. the one running the management VM).</summary>
public sealed record ExcludeHostsFilter(ImmutableSortedSet<string> Hosts) : ExtraFilter
{
    public override string Id => "exclude-hosts";
}

/// <summary>At most this many guests per host (Nova NumInstancesFilter, max_instances_per_host).</summary>
public sealed record MaxGuestsPerHostFilter(int Max) : ExtraFilter
{
    public override string Id => "max-guests-per-host";
}

/// <summary>Reject hosts whose current CPU use is above this percentage (oVirt CPUOverloaded).</summary>
public sealed record MaxHostCpuFilter(double Percent) : ExtraFilter
{
    public override string Id => "max-host-cpu";
}
