using System.Net;
using System.Net.Sockets;

namespace KvmCluster.Hosting;

/// <summary>
/// A port another process listens on is a usage error (exit 2, naming the option), found before start-up: Orleans'
/// listener sets SO_REUSEPORT, so a second silo on a used --silo-port would otherwise start and share its traffic.
/// </summary>
public static class PortCheck
{
    public static void EnsureFree(IPAddress address, int port, string option)
    {
        using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try { probe.Bind(new IPEndPoint(address, port)); }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new UsageException($"{option}: port {port} on {address} is in use by another process (another silo?)");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            throw new UsageException($"{option}: {address} is not an address of this machine");
        }
    }

    /// <summary>The silo, gateway and API ports this configuration would listen on.</summary>
    public static void EnsureFree(SiloSettings s)
    {
        var silo = string.IsNullOrWhiteSpace(s.Redis) ? IPAddress.Loopback : IPAddress.Parse(s.AdvertisedAddress);
        EnsureFree(silo, s.SiloPort, "--silo-port");
        EnsureFree(silo, s.GatewayPort, "--gateway-port");
        var api = new Uri(s.ApiUrl);
        var host = api.Host.Trim('[', ']');
        var address = host == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(host, out var ip) ? ip : null;
        if (address is not null) EnsureFree(address, api.Port, "--api-url");
    }
}
