using System.Threading.RateLimiting;
using KvmCluster.Hosting;

namespace KvmCluster.Silo.Api;

/// <summary>
/// Per-caller request rates (ASP.NET Core's rate limiter, a token bucket per caller): a caller with the token is one
/// caller however many connections it opens; others are told apart by address. Beyond the rate: 429 with Retry-After.
/// </summary>
public static class RequestLimits
{
    public static IServiceCollection AddRequestLimits(this IServiceCollection services, SiloSettings settings)
    {
        var rate = settings.ApiRequestsPerSecond;
        services.AddRateLimiter(o =>
        {
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                // A token this silo already knows is one caller; anything else (no token, an unknown or random one) is
                // counted by address, so made-up tokens cannot each get a fresh bucket.
                var known = context.RequestServices.GetRequiredService<Callers>().Known(Callers.Bearer(context.Request.Headers.Authorization));
                var caller = known is not null ? "token:" + known.Name : context.Connection.RemoteIpAddress?.ToString() ?? "unix-socket";
                return RateLimitPartition.GetTokenBucketLimiter(caller, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = rate * 2, // a burst of two seconds' worth
                    TokensPerPeriod = Math.Max(1, rate / 10),
                    ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = async (rejected, ct) =>
            {
                rejected.HttpContext.Response.Headers.RetryAfter = "1";
                await Results.Problem(statusCode: 429, title: "Too many requests",
                    detail: $"more than {rate} requests per second from this caller (KvmCluster:ApiRequestsPerSecond)").ExecuteAsync(rejected.HttpContext);
            };
        });
        return services;
    }
}
