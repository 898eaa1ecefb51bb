namespace KvmCluster.Silo.Api;

/// <summary>
/// Who may do what on a silo's HTTP port: reads of the fleet are open on the bound address (127.0.0.1 by default);
/// every change, the metrics and the dashboard need the token — as `Authorization: Bearer`, or, for the dashboard a
/// browser opens, once as `/dashboard?access_token=…`, which sets an HttpOnly, same-site cookie for the dashboard's path.
/// </summary>
public static class AccessGuard
{
    public const string DashboardPath = "/dashboard";
    public const string MetricsPath = "/metrics";
    private const string Cookie = "kvmcluster-token";

    public static WebApplication UseAccessGuard(this WebApplication app, ApiToken token)
    {
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            var dashboard = path.StartsWithSegments(DashboardPath);
            var reading = HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method);
            if (reading && !dashboard && !path.StartsWithSegments(MetricsPath)) { await next(context); return; }
            if (token.Accepts(context.Request.Headers.Authorization)
                || dashboard && context.Request.Cookies.TryGetValue(Cookie, out var cookie) && token.Matches(cookie))
            {
                await next(context);
                return;
            }
            if (dashboard && reading && context.Request.Query.TryGetValue("access_token", out var given) && token.Matches(given.ToString()))
            {
                context.Response.Cookies.Append(Cookie, token.Value, new CookieOptions
                {
                    HttpOnly = true,
                    SameSite = SameSiteMode.Strict,
                    Path = DashboardPath,
                    Secure = context.Request.IsHttps,
                });
                context.Response.Redirect(context.Request.PathBase + path); // the token leaves the address bar
                return;
            }
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await Results.Problem(statusCode: 401, title: "Unauthorized",
                detail: dashboard ? "the dashboard needs the token: open /dashboard?access_token=<token> once"
                    : reading ? "metrics need 'Authorization: Bearer <token>'" : "this call changes state: send 'Authorization: Bearer <token>'")
                .ExecuteAsync(context);
        });
        return app;
    }
}
