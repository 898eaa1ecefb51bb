using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using KvmCluster.Grains.Serialization;
using KvmCluster.Hosting;

namespace KvmCluster.Silo.Cli;

/// <summary>
/// The CLI's way to the cluster: any silo's REST API. Several silos may be given; when one cannot be reached (the
/// request never left) the next is tried — a call that reached a silo is never repeated elsewhere, so a change is
/// never applied twice. Every call has a timeout. Problem details come back as <see cref="ApiProblem"/>.
/// </summary>
public sealed class ApiClient(IReadOnlyList<Uri> silos, string? token, TimeSpan timeout) : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = timeout };
    private int _current;

    public static ApiClient From(string? api, string? token, double timeoutSeconds = 60)
    {
        var urls = api ?? Environment.GetEnvironmentVariable("KVMCLUSTER_API") ?? "http://127.0.0.1:8080";
        var silos = new List<Uri>();
        foreach (var url in urls.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")) throw new UsageException($"--api: '{url}' is not an http(s) URL");
            silos.Add(new Uri(url.TrimEnd('/') + "/"));
        }
        if (silos.Count == 0) throw new UsageException("--api: no URL given");
        if (!(timeoutSeconds > 0 && timeoutSeconds <= 3600)) throw new UsageException("--timeout must be between 0 and 3600 seconds");
        token ??= Environment.GetEnvironmentVariable("KVMCLUSTER_TOKEN");
        if (token is null)
        {
            var file = Path.Combine(new SiloSettings().StateDirectory, "api-token");
            if (File.Exists(file)) token = File.ReadAllText(file).Trim();
        }
        return new ApiClient(silos, token, TimeSpan.FromSeconds(timeoutSeconds));
    }

    public Task<JsonElement> Get(string path) => Send(HttpMethod.Get, path, null, null);

    /// <summary>A GET whose answer is text (a serial log), not JSON; problems still come back as <see cref="ApiProblem"/>.</summary>
    public async Task<string> GetText(string path)
    {
        var silo = silos[_current];
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(silo, path.TrimStart('/')));
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        HttpResponseMessage response;
        try { response = await _http.SendAsync(request); }
        catch (HttpRequestException e) { throw new ApiProblem(0, "Unreachable", $"{silo}: {e.Message}", null); }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode) return text;
            string? detail = null;
            try { detail = JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString(); } catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException) { }
            throw new ApiProblem((int)response.StatusCode, response.ReasonPhrase ?? "Error", detail ?? text, null);
        }
    }

    /// <summary>A WebSocket to a path of the API (ws:// or wss:// as the silo's URL is http or https), with the token.</summary>
    public async Task<System.Net.WebSockets.ClientWebSocket> WebSocket(string path, CancellationToken cancellationToken)
    {
        var silo = silos[_current];
        var uri = new UriBuilder(new Uri(silo, path.TrimStart('/'))) { Scheme = silo.Scheme == "https" ? "wss" : "ws" }.Uri;
        var socket = new System.Net.WebSockets.ClientWebSocket();
        if (token is not null) socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        socket.Options.CollectHttpResponseDetails = true;
        try { await socket.ConnectAsync(uri, cancellationToken); }
        catch (System.Net.WebSockets.WebSocketException e)
        {
            var status = (int)socket.HttpStatusCode;
            socket.Dispose();
            throw new ApiProblem(status, status == 0 ? "Unreachable" : "Refused", status switch
            {
                401 => "the token is missing, unknown or revoked",
                403 => "this needs the operator role",
                404 => "no running guest by that name",
                409 => "another console is attached to this guest",
                _ => e.Message,
            }, null);
        }
        return socket;
    }
    public Task<JsonElement> Post(string path, object? body = null) =>
        Send(HttpMethod.Post, path, body is null ? null : JsonSerializer.Serialize(body, PolicyTypesSerialization.Options), "application/json");
    public Task<JsonElement> PostText(string path, string text, string mediaType) => Send(HttpMethod.Post, path, text, mediaType);
    public Task<JsonElement> PutText(string path, string text, string mediaType) => Send(HttpMethod.Put, path, text, mediaType);
    public Task<JsonElement> Delete(string path) => Send(HttpMethod.Delete, path, null, null);

    private async Task<JsonElement> Send(HttpMethod method, string path, string? body, string? mediaType)
    {
        HttpResponseMessage? response = null;
        var unreachable = new List<string>();
        for (var tried = 0; response is null; tried++)
        {
            var silo = silos[_current];
            using var request = new HttpRequestMessage(method, new Uri(silo, path.TrimStart('/')));
            if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, mediaType!);
            try { response = await _http.SendAsync(request); }
            catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ConnectionError)
            {
                unreachable.Add($"{silo}: {e.Message}");
                if (tried + 1 >= silos.Count) throw new ApiProblem(0, "Unreachable", "no silo answered: " + string.Join("; ", unreachable), null);
                _current = (_current + 1) % silos.Count;
            }
            catch (HttpRequestException e) { throw new ApiProblem(0, "Unreachable", $"{silo}: {e.Message}", null); }
            catch (TaskCanceledException) { throw new ApiProblem(0, "Timed out", $"{silo} did not answer within {_http.Timeout.TotalSeconds:0} s (--timeout)", null); }
        }
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
