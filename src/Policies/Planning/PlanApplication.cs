using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Planning;

/// <summary>
/// The fleet as it will be once a plan has run: guests on their new hosts, hugepages follow their guests,
/// hosts powered on or off. The simulator advances with it; tests use it to plan the next round.
/// </summary>
public static class PlanApplication
{
    public static FleetSnapshot Apply(FleetSnapshot fleet, Plan plan)
    {
        var hosts = fleet.Hosts.ToDictionary(h => h.Name, StringComparer.Ordinal);
        var guests = fleet.Guests.ToDictionary(g => g.Name, StringComparer.Ordinal);
        foreach (var action in plan.Actions.OrderBy(a => a.Step))
        {
            switch (action)
            {
                case MigrateAction m:
                    var g = guests[m.Guest];
                    if (g.HugepageSizeKiB is { } size)
                    {
                        hosts[m.From] = WithPages(hosts[m.From], size, +g.HugepageCount);
                        hosts[m.To] = WithPages(hosts[m.To], size, -g.HugepageCount);
                    }
                    guests[m.Guest] = g with { Host = m.To };
                    break;
                case PowerAction p:
                    hosts[p.Host] = hosts[p.Host] with { Power = p.Operation == PowerOperation.PowerOn ? PowerState.On : PowerState.Off };
                    break;
            }
        }
        return fleet with { Hosts = [.. fleet.Hosts.Select(h => hosts[h.Name])], Guests = [.. fleet.Guests.Select(g => guests[g.Name])] };
    }

    private static Host WithPages(Host h, int size, int delta) =>
        h with { Hugepages = [.. h.Hugepages.Select(p => p.PageSizeKiB == size ? p with { Free = p.Free + delta } : p)] };
}
