using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Planning;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Grains.Scheduling;

/// <summary>
/// Migrations under way, plans' and operators', by guest — at most one per guest — and the policy's concurrency
/// limits over them. The dictionary is the scheduler's persisted state (<see cref="SchedulerState.Active"/>): a
/// restarted scheduler still knows them. An entry is removed only by the migration it names, so a late "ended" of an
/// old migration never clears a newer one.
/// </summary>
public sealed class MigrationsUnderWay(Func<SchedulerState> state)
{
    private Dictionary<string, ActiveMigration> Active => state().Active;

    public int Count => Active.Count;

    public IEnumerable<ActiveMigration> All => Active.Values;

    public bool Involves(string guest) => Active.ContainsKey(guest);

    public ActiveMigration? Of(string guest) => Active.GetValueOrDefault(guest);

    public void Started(string id, MigrationOrder order) => Active[order.Guest] = new ActiveMigration(id, order);

    public void Ended(string guest, string id)
    {
        if (Active.TryGetValue(guest, out var a) && a.Id == id) Active.Remove(guest);
    }

    /// <summary>What the planner and the executor must count as moving, in a stable order.</summary>
    public List<InFlightMigration> InFlight() =>
        [.. Active.Values.Select(a => new InFlightMigration(a.Order.Guest, a.Order.From, a.Order.To)).OrderBy(m => m.Guest, StringComparer.Ordinal)];

    /// <summary>The policy limit a new migration from <paramref name="from"/> to <paramref name="to"/> would break, or null.</summary>
    public string? LimitBroken(MigrationSettings m, string from, string to)
    {
        var active = Active.Values.ToList();
        static string Names(IEnumerable<ActiveMigration> list) => string.Join(", ", list.Select(a => a.Order.Guest).Order(StringComparer.Ordinal));
        if (active.Count >= m.MaxConcurrent)
            return $"the policy allows {m.MaxConcurrent} migrations at once in the cluster (migration.maxConcurrent) and {active.Count} run: {Names(active)}";
        var outbound = active.Where(a => a.Order.From == from).ToList();
        if (outbound.Count >= m.MaxOutboundPerHost)
            return $"the policy allows {m.MaxOutboundPerHost} migrations out of a host at once (migration.maxOutboundPerHost) and {from} sends {Names(outbound)}";
        var inbound = active.Where(a => a.Order.To == to).ToList();
        if (inbound.Count >= m.MaxInboundPerHost)
            return $"the policy allows {m.MaxInboundPerHost} migrations into a host at once (migration.maxInboundPerHost) and {to} receives {Names(inbound)}";
        return null;
    }
}
