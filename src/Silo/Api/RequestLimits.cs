using System.Threading.RateLimiting;
using KvmCluster.Silo.Hosting;

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
                var token = context.RequestServices.GetRequiredService<ApiToken>();
                var caller = token.Accepts(context.Request.Headers.Authorization) ? "token"
                    : context.Connection.RemoteIpAddress?.ToString() ?? "unix-socket";
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
