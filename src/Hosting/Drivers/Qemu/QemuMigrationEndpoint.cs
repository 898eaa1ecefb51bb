using System.Text.RegularExpressions;

namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>
/// Where the source sends a guest: the incoming QEMU's migration listener, and for guests whose disks are copied the
/// destination's NBD server exporting their new images. Written "tcp:HOST:PORT" or "tcp:HOST:PORT nbd:HOST:PORT";
/// it crosses the cluster as a string, so the source checks it before any part reaches QMP.
/// </summary>
public sealed partial record QemuMigrationEndpoint(string Host, int Port, string? NbdHost = null, int NbdPort = 0)
{
    [GeneratedRegex(@"^tcp:(?<h>[A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:]{2,39}\]):(?<p>\d{1,5})(?: nbd:(?<nh>[A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:]{2,39}\]):(?<np>\d{1,5}))?$", RegexOptions.CultureInvariant)]
    private static partial Regex Form();

    public bool HasDisks => NbdHost is not null;

    public string MigrationUri => $"tcp:{Host}:{Port}";

    /// <summary>The NBD URI of one exported disk.</summary>
    public string Nbd(string export) => $"nbd:{NbdHost}:{NbdPort}:exportname={export}";

    public override string ToString() => MigrationUri + (HasDisks ? $" nbd:{NbdHost}:{NbdPort}" : "");

    public static QemuMigrationEndpoint? Parse(string text)
    {
        var m = Form().Match(text);
        if (!m.Success || !ValidPort(m.Groups["p"].Value, out var port)) return null;
        if (!m.Groups["nh"].Success) return new(m.Groups["h"].Value, port);
        return ValidPort(m.Groups["np"].Value, out var nbd) ? new(m.Groups["h"].Value, port, m.Groups["nh"].Value, nbd) : null;
    }

    private static bool ValidPort(string text, out int port) => int.TryParse(text, out port) && port is > 0 and < 65536;
}
