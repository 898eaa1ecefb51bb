using System.Text.Json;
using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Documents;
using Microsoft.AspNetCore.Diagnostics;

namespace KvmCluster.Silo.Api;

/// <summary>Every error the API returns is an RFC 7807 problem document; user mistakes name the field, never a stack trace.</summary>
public static class Problems
{
    public static IResult For(ClusterException e) => Results.Problem(
        statusCode: e.Kind switch
        {
            ProblemKind.Invalid => StatusCodes.Status400BadRequest,
            ProblemKind.NotFound => StatusCodes.Status404NotFound,
            ProblemKind.Conflict => StatusCodes.Status409Conflict,
            _ => StatusCodes.Status503ServiceUnavailable,
        },
        title: e.Kind switch
        {
            ProblemKind.Invalid => "Invalid request",
            ProblemKind.NotFound => "Not found",
            ProblemKind.Conflict => "Conflict",
            _ => "Unavailable",
        },
        detail: e.Detail,
        extensions: e.Field is null ? null : new Dictionary<string, object?> { ["field"] = e.Field });

    public static IResult BadBody(string detail, string? field) => Results.Problem(statusCode: 400, title: "Invalid request body", detail: detail,
        extensions: field is null ? null : new Dictionary<string, object?> { ["field"] = field });

    /// <summary>Maps what escapes an endpoint: our refusals keep their kind, anything else is a 500 without internals.</summary>
    public static void UseProblems(this WebApplication app)
    {
        app.UseExceptionHandler(handler => handler.Run(async context =>
        {
            var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            var result = error switch
            {
                ClusterException c => For(c),
                DocumentException d => BadBody(string.Join("; ", d.Errors), d.Errors.FirstOrDefault()?.Path),
                JsonException j => BadBody(j.Message, FieldOf(j)),
                BadHttpRequestException b => BadBody(b.Message, null),
                TimeoutException t => Results.Problem(statusCode: 504, title: "Timed out", detail: t.Message),
                Orleans.Runtime.OrleansException o => Results.Problem(statusCode: 503, title: "Unavailable", detail: o.Message),
                _ => Results.Problem(statusCode: 500, title: "Internal error", detail: "the request failed; see the silo log"),
            };
            await result.ExecuteAsync(context);
        }));
        app.UseStatusCodePages(async status =>
        {
            if (status.HttpContext.Response.ContentLength is null && !status.HttpContext.Response.HasStarted)
                await Results.Problem(statusCode: status.HttpContext.Response.StatusCode).ExecuteAsync(status.HttpContext);
        });
    }

    /// <summary>"$.memoryMiB" → "memoryMiB".</summary>
    public static string? FieldOf(JsonException e) => e.Path is { Length: > 0 } p ? p.TrimStart('$').TrimStart('.') : null;
}
