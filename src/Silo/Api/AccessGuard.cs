using KvmCluster.Grains.Contracts;
using KvmCluster.Hosting;

namespace KvmCluster.Silo.Api;

/// <summary>The role an endpoint needs (endpoint metadata; without it, reads need a viewer and changes an admin).</summary>
public sealed record RequiresRole(Role Role);

public static class RoleEndpoints
{
    public static TBuilder Requires<TBuilder>(this TBuilder builder, Role role) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequiresRole(role));
}

/// <summary>
/// Who may do what on a silo's HTTP port. Every request but /healthz and the OpenAPI document names its caller with a
/// bearer token (reads too, unless KvmCluster:ApiOpenReads); the caller's role must be the endpoint's or above —
/// otherwise 401 (no or unknown token) or 403 naming the role needed. The dashboard a browser opens takes the token once
/// as `/dashboard?access_token=…`, which sets an HttpOnly, same-site cookie for the dashboard's path. Every request that
/// would change state, allowed or not, is audited: the event log (kind `audit`, with the actor) and the `audit` log category.
/// </summary>
public static class AccessGuard
{
    public const string DashboardPath = "/dashboard";
    public const string MetricsPath = "/metrics";
    private const string Cookie = "kvmcluster-token";
    private const string CallerItem = "kvmcluster.caller";

    public static Caller? CallerOf(HttpContext context) => context.Items.TryGetValue(CallerItem, out var c) ? c as Caller : null;

    public static WebApplication UseAccessGuard(this WebApplication app, Callers callers, SiloSettings settings)
    {
        var audit = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("audit");
        var grains = app.Services.GetRequiredService<IGrainFactory>();
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            var reading = HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method);
            if (path == "/healthz" || path.StartsWithSegments("/openapi")) { await next(context); return; }
            var dashboard = path.StartsWithSegments(DashboardPath);
            var needed = dashboard ? Role.Admin
                : context.GetEndpoint()?.Metadata.GetMetadata<RequiresRole>()?.Role ?? (reading ? Role.Viewer : Role.Admin);

            var secret = Callers.Bearer(context.Request.Headers.Authorization);
            if (secret is null && dashboard && context.Request.Cookies.TryGetValue(Cookie, out var cookie)) secret = cookie;
            var caller = await callers.Resolve(secret);
            if (caller is null && dashboard && reading && context.Request.Query.TryGetValue("access_token", out var given)
                && await callers.Resolve(given.ToString()) is { Role: Role.Admin })
            {
                context.Response.Cookies.Append(Cookie, given.ToString(), new CookieOptions
                {
                    HttpOnly = true,
                    SameSite = SameSiteMode.Strict,
                    Path = DashboardPath,
                    Secure = context.Request.IsHttps,
                });
                context.Response.Redirect(context.Request.PathBase + path); // the token leaves the address bar
                return;
            }
            if (caller is not null) context.Items[CallerItem] = caller;

            // Open reads are the viewer's reads: what needs a higher role (tokens, the state export) still needs its token.
            if (caller is null && !(reading && settings.ApiOpenReads && needed == Role.Viewer && !dashboard && !path.StartsWithSegments(MetricsPath)))
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await Results.Problem(statusCode: 401, title: "Unauthorized",
                    detail: dashboard ? "the dashboard needs an admin token: open /dashboard?access_token=<token> once"
                        : secret is null ? "send 'Authorization: Bearer <token>'" : "the token is unknown or revoked").ExecuteAsync(context);
            }
            else if (caller is not null && caller.Role < needed)
            {
                await Results.Problem(statusCode: 403, title: "Forbidden",
                    detail: $"this call needs the {Name(needed)} role; token '{caller.Name}' has {Name(caller.Role)}",
                    extensions: new Dictionary<string, object?> { ["requiredRole"] = Name(needed) }).ExecuteAsync(context);
            }
            else
            {
                await next(context);
            }
            if (!reading) Audit(context, caller, audit, grains);
        });
        return app;
    }

    public static string Name(Role role) => role.ToString().ToLowerInvariant();

    private static void Audit(HttpContext context, Caller? caller, ILogger audit, IGrainFactory grains)
    {
        var actor = caller?.Name ?? "anonymous";
        var role = caller is null ? "none" : Name(caller.Role);
        var address = context.Connection.RemoteIpAddress?.ToString() ?? "unix-socket";
        var request = $"{context.Request.Method} {context.Request.Path}{context.Request.QueryString}";
        var status = context.Response.StatusCode;
        audit.LogInformation("{Actor} ({Role}) from {Address}: {Request} → {Status}", actor, role, address, request, status);
        var record = Grains.Events.Events.New(DateTimeOffset.UtcNow, "audit", context.Request.Path.Value ?? "", $"{request} → {status}",
            [$"actor {actor}", $"role {role}", $"from {address}", $"status {status}"]) with
        { Actor = actor };
        _ = Grains.Events.Events.Record(grains, record).ContinueWith(t => audit.LogWarning("audit record not stored: {Error}", t.Exception?.GetBaseException().Message),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }
}
