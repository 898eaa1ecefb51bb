namespace KvmCluster.Policies.Model;

/// <summary>Host power state as a power manager (IPMI, WOL) sees it.</summary>
public enum PowerState
{
    On,
    Standby,
    Off,
}
