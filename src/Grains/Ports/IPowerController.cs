namespace KvmCluster.Grains.Ports;

/// <summary>
/// How a plan's power actions reach a host: the silo implements it with ipmitool or an operator-supplied
/// command, the simulator with its power-state model. Power-on returns when the host is booting; the
/// host agent reports when it is up.
/// </summary>
public interface IPowerController
{
    Task PowerOnAsync(string host, CancellationToken cancellationToken);
    Task PowerOffAsync(string host, CancellationToken cancellationToken);
    Task<HostPowerStatus> StatusAsync(string host, CancellationToken cancellationToken);
}

public enum HostPowerStatus
{
    On,
    Standby,
    Off,
    Unknown,
}
