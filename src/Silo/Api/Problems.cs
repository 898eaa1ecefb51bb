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
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            // A caller's mistake is answered, not logged with a stack trace; only what we did not expect is.
            SuppressDiagnosticsCallback = c => IsCallersMistake(c.Exception),
            ExceptionHandler = Handle,
        });
        app.UseStatusCodePages(async status =>
        {
            var context = status.HttpContext;
            if (context.Response.ContentLength is null && !context.Response.HasStarted)
                await Results.Problem(statusCode: context.Response.StatusCode, detail: context.Response.StatusCode switch
                {
                    404 => $"nothing here: {context.Request.Method} {context.Request.Path} (see /openapi/v1.json)",
                    405 => $"{context.Request.Method} is not allowed on {context.Request.Path}",
                    _ => null,
                }).ExecuteAsync(context);
        });
    }

    private static bool IsCallersMistake(Exception e) => e is ClusterException { Kind: not ProblemKind.Unavailable } or DocumentException or JsonException
        or BadHttpRequestException or UnsupportedMediaType;

    private static async Task Handle(HttpContext context)
    {
        {
            var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            var result = error switch
            {
                ClusterException c => For(c),
                DocumentException d => BadBody(string.Join("; ", d.Errors), d.Errors.FirstOrDefault()?.Path),
                JsonException j => BadBody(Describe(j), FieldOf(j)),
                BadHttpRequestException { StatusCode: 413 } => Results.Problem(statusCode: 413, title: "Request body too large",
                    detail: $"the body exceeds the limit of {ApiJson.MaxBodyBytes:N0} bytes"),
                BadHttpRequestException b => Results.Problem(statusCode: b.StatusCode, title: "Bad request", detail: b.Message),
                UnsupportedMediaType u => Results.Problem(statusCode: 415, title: "Unsupported media type", detail: u.Message),
                TimeoutException t => Results.Problem(statusCode: 504, title: "Timed out", detail: t.Message),
                Orleans.Runtime.OrleansException o => Results.Problem(statusCode: 503, title: "Unavailable", detail: o.Message),
                _ => Results.Problem(statusCode: 500, title: "Internal error", detail: "the request failed; see the silo log"),
            };
            await result.ExecuteAsync(context);
        }
    }

    /// <summary>
    /// What was wrong with a JSON body, in the JSON's own terms: System.Text.Json's messages name .NET types
    /// ("System.Int32", "KvmCluster.Policies.Model.Guest"), which mean nothing to the caller.
    /// </summary>
    public static string Describe(JsonException e)
    {
        var field = FieldOf(e);
        var m = e.Message;
        if (m.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
            return $"unknown field '{Quoted(m) ?? field}'";
        if (m.StartsWith("Duplicate property", StringComparison.Ordinal)) return $"field '{Quoted(m) ?? field}' is given twice";
        if (m.Contains("missing required properties", StringComparison.Ordinal))
            return "required field missing: " + m[(m.IndexOf("including:", StringComparison.Ordinal) + 10)..].Trim().TrimEnd('.');
        if (m.Contains("could not be converted to", StringComparison.Ordinal))
        {
            var type = m[(m.IndexOf("converted to", StringComparison.Ordinal) + 12)..].Split('.', ' ').FirstOrDefault(t => t.Length > 0 && t != "System") ?? "";
            var expected = type switch
            {
                "Int32" or "Int64" or "Int16" => "a whole number (not a string)",
                "Double" or "Single" or "Decimal" => "a number (not a string)",
                "Boolean" => "true or false",
                "String" => "a string",
                "Guid" => "a UUID string",
                _ => "a value of the documented type",
            };
            return field is null ? $"a value has the wrong type: expected {expected}" : $"'{field}' must be {expected}";
        }
        if (m.Contains("maximum configured depth", StringComparison.Ordinal)) return "the JSON nests deeper than 32 levels";
        // Syntax errors: System.Text.Json's text says where (line and byte); it names no types.
        return m;
    }

    private static string? Quoted(string message)
    {
        var a = message.IndexOf('\'');
        var b = a < 0 ? -1 : message.IndexOf('\'', a + 1);
        return b > a ? message[(a + 1)..b] : null;
    }

    /// <summary>"$.memoryMiB" → "memoryMiB".</summary>
    public static string? FieldOf(JsonException e) => e.Path is { Length: > 0 } p ? p.TrimStart('$').TrimStart('.') : null;
}
