using System.Text.Json;
using System.Text.Json.Serialization;
using KvmCluster.Grains.Serialization;

namespace KvmCluster.Silo.Api;

/// <summary>
/// How the API reads a JSON body: strictly. A field it does not know (hugepagesSizeKiB for hugepageSizeKiB), a key
/// given twice, a number in quotes or a name in another case is a 400 naming the field as the JSON spells it, never a
/// silently different request. Storage and grain messages keep the tolerant options (old records must still load).
/// </summary>
public static class ApiJson
{
    /// <summary>Largest request body: a policy or guest spec is a few KiB; a fleet-sized document far below this.</summary>
    public const long MaxBodyBytes = 1024 * 1024;

    public static readonly JsonSerializerOptions Options = new(PolicyTypesSerialization.Options)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
        NumberHandling = JsonNumberHandling.Strict,
        PropertyNameCaseInsensitive = false,
        MaxDepth = 32,
    };

    /// <summary>Whether a request says its body is JSON (application/json, optionally with a charset).</summary>
    public static bool IsJson(HttpRequest request) =>
        request.ContentType is { } t && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(t, out var m)
        && (m.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || m.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));

    /// <summary>YAML documents (policies) come as application/yaml (or x-yaml, text/yaml, text/plain, or JSON, which YAML contains).</summary>
    public static bool IsYaml(HttpRequest request) =>
        IsJson(request) || request.ContentType is { } t && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(t, out var m)
        && m.MediaType.Value?.ToLowerInvariant() is "application/yaml" or "application/x-yaml" or "text/yaml" or "text/x-yaml" or "text/plain";
}
