namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>
/// QEMU's migration and NBD streams over TLS, from the silo's TLS directory (the layout <c>tls-creds-x509</c> reads):
/// the incoming QEMU listens with server credentials that demand a client certificate from the cluster's authority
/// (<c>verify-peer</c>), the source connects with client credentials and checks the destination's certificate names
/// the address it dials (<c>tls-hostname</c>). With TLS on, a plaintext stream to the destination is refused by QEMU
/// itself. libvirt does the same with its <c>migrate_tls</c> settings.
/// </summary>
public sealed class QemuMigrationTls(string directory)
{
    public const string ServerId = "kvm-tls-in";
    public const string ClientId = "kvm-tls-out";

    public string Directory { get; } = directory;

    /// <summary>The TLS of this silo's QEMU streams: on when the silo has a TLS directory (KvmCluster:Qemu:TlsDirectory, else --tls-dir).</summary>
    public static QemuMigrationTls? From(QemuOptions options) =>
        string.IsNullOrWhiteSpace(options.TlsDirectory) ? null : new QemuMigrationTls(options.TlsDirectory);

    /// <summary>Adds the credentials object once per QEMU (a source keeps its client credentials across migrations).</summary>
    public async Task AddAsync(QmpClient qmp, bool server, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await qmp.ExecuteAsync("object-add", new Dictionary<string, object>
            {
                ["qom-type"] = "tls-creds-x509",
                ["id"] = server ? ServerId : ClientId,
                ["dir"] = Directory,
                ["endpoint"] = server ? "server" : "client",
                ["verify-peer"] = true,
            }, timeout, cancellationToken);
        }
        catch (QmpException e) when (e.Description.Contains("already", StringComparison.OrdinalIgnoreCase) || e.Description.Contains("Duplicate", StringComparison.OrdinalIgnoreCase))
        {
            // Added for an earlier migration of this QEMU.
        }
    }

    /// <summary>blockdev-add arguments of an NBD client node over TLS: the target the source's disk copy writes to.</summary>
    public Dictionary<string, object> NbdNode(string nodeName, string host, int port, string export) => new()
    {
        ["driver"] = "nbd",
        ["node-name"] = nodeName,
        ["server"] = new Dictionary<string, string> { ["type"] = "inet", ["host"] = host, ["port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        ["export"] = export,
        ["tls-creds"] = ClientId,
        ["tls-hostname"] = host,
    };
}
