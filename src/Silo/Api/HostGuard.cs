using KvmCluster.Hosting;

namespace KvmCluster.Silo.Api;

/// <summary>
/// DNS rebinding: a web page whose name resolves to this silo's address would otherwise read the fleet through the
/// visitor's browser. Requests over TCP must name this silo in their Host header — localhost, a loopback address, the
/// hypervisor's name, its advertised or API address, or a name in KvmCluster:ApiAllowedHosts. The unix socket, which
/// no browser reaches, takes any.
/// </summary>
public static class HostGuard
{
    public static WebApplication UseHostGuard(this WebApplication app, SiloSettings settings)
    {
        var allowed = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "localhost", "127.0.0.1", "[::1]", "::1", settings.Hypervisor, settings.AdvertisedAddress };
        var api = new Uri(settings.ApiUrl).Host;
        if (api is not ("0.0.0.0" or "[::]" or "+" or "*")) allowed.Add(api);
        foreach (var h in settings.ApiAllowedHosts) allowed.Add(h);
        app.Use(async (context, next) =>
        {
            if (context.Connection.LocalIpAddress is null || allowed.Contains(context.Request.Host.Host)) { await next(context); return; }
            await Results.Problem(statusCode: 400, title: "Unknown host",
                detail: $"this silo does not answer to the name '{context.Request.Host.Host}'; add it to KvmCluster:ApiAllowedHosts if it is one of its names")
                .ExecuteAsync(context);
        });
        return app;
    }
}
