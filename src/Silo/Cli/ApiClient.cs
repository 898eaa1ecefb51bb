using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using KvmCluster.Grains.Serialization;
using KvmCluster.Silo.Hosting;

namespace KvmCluster.Silo.Cli;

/// <summary>The CLI's way to any silo: its REST API. Problem details come back as <see cref="ApiProblem"/>.</summary>
public sealed class ApiClient(string baseUrl, string? token) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = new Uri(baseUrl.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(60) };

    public static ApiClient From(string? api, string? token)
    {
        var url = api ?? Environment.GetEnvironmentVariable("KVMCLUSTER_API") ?? "http://127.0.0.1:8080";
        if (!Uri.TryCreate(url, UriKind.Absolute, out _)) throw new UsageException($"--api: '{url}' is not a URL");
        token ??= Environment.GetEnvironmentVariable("KVMCLUSTER_TOKEN");
        if (token is null)
        {
            var file = Path.Combine(new SiloSettings().StateDirectory, "api-token");
            if (File.Exists(file)) token = File.ReadAllText(file).Trim();
        }
        return new ApiClient(url, token);
    }

    public Task<JsonElement> Get(string path) => Send(HttpMethod.Get, path, null, null);
    public Task<JsonElement> Post(string path, object? body = null) =>
        Send(HttpMethod.Post, path, body is null ? null : JsonSerializer.Serialize(body, PolicyTypesSerialization.Options), "application/json");
    public Task<JsonElement> PostText(string path, string text, string mediaType) => Send(HttpMethod.Post, path, text, mediaType);

    private async Task<JsonElement> Send(HttpMethod method, string path, string? body, string? mediaType)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, mediaType!);
        HttpResponseMessage response;
        try { response = await _http.SendAsync(request); }
        catch (HttpRequestException e) { throw new ApiProblem(0, "Unreachable", $"cannot reach {_http.BaseAddress}: {e.Message}", null); }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            JsonElement json = default;
            if (text.Length > 0)
            {
                try { json = JsonDocument.Parse(text).RootElement.Clone(); }
                catch (JsonException) { if (response.IsSuccessStatusCode) throw new ApiProblem((int)response.StatusCode, "Bad response", text, null); }
            }
            if (response.IsSuccessStatusCode) return json;
            string? S(string name) => json.ValueKind == JsonValueKind.Object && json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            throw new ApiProblem((int)response.StatusCode, S("title") ?? response.ReasonPhrase ?? "Error", S("detail") ?? text, S("field"));
        }
    }

    public void Dispose() => _http.Dispose();
}

public sealed class ApiProblem(int status, string title, string detail, string? field)
    : Exception($"{(status > 0 ? status + " " : "")}{title}: {detail}{(field is null ? "" : $" (field: {field})")}")
{
    public int Status { get; } = status;
}
