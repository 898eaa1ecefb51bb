using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using KvmCluster.Hosting.Drivers.Qemu;

namespace KvmCluster.Silo.Tests.Hosts;

/// <summary>
/// A cluster of separate hosts (<see cref="NetworkNamespaces"/>): Redis (append-only file, fsync always) in one
/// namespace at 10.77.0.2, and a `kvmcluster silo` process in each host's namespace at 10.77.0.1N, clustered through
/// that Redis, each serving its API on a unix socket the test talks to (no network outside the namespaces). Silos,
/// QEMUs and Redis can be killed and started again one by one; fault points stop a silo at a protocol step.
/// </summary>
public sealed class NamespaceCluster : IAsyncDisposable
{
    public const string Token = "fault-injection-token-0123456789";
    private const string RedisAddress = "10.77.0.2";
    private readonly NetworkNamespaces _net = new();
    private readonly Dictionary<string, Node> _nodes = new(StringComparer.Ordinal);
    private readonly string _driver;
    private readonly IReadOnlyDictionary<string, string> _env;
    private string _redisNamespace = "";
    private ExternalProcess? _redis;

    public DirectoryInfo Work { get; }
    public string Faults { get; }
    public IReadOnlyCollection<string> Hosts => _nodes.Keys;

    private sealed class Node(string name, string ns, string address, string socket, string state)
    {
        public string Name { get; } = name;
        public string Namespace { get; } = ns;
        public string Address { get; } = address;
        public string Socket { get; } = socket;
        public string State { get; } = state;
        public ExternalProcess? Process { get; set; }
        public HttpClient? Http { get; set; }
        /// <summary>The output of every process this silo ran, for failure messages.</summary>
        public List<string> Logs { get; } = [];
    }

    private NamespaceCluster(string driver, IReadOnlyDictionary<string, string> env)
    {
        _driver = driver;
        _env = env;
        // Unix socket paths and QMP sockets under the state directories must stay short.
        Work = new DirectoryInfo(Path.Combine("/tmp", $"kvt-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}"));
        Work.Create();
        Faults = Directory.CreateDirectory(Path.Combine(Work.FullName, "faults")).FullName;
    }

    /// <summary>Redis and one silo per host name, all up and every host reachable.</summary>
    public static async Task<NamespaceCluster> StartAsync(IReadOnlyList<string> hosts, string driver, IReadOnlyDictionary<string, string>? env = null)
    {
        var cluster = new NamespaceCluster(driver, env ?? new Dictionary<string, string>());
        try
        {
            cluster._redisNamespace = cluster._net.AddHost("redis", 2);
            Directory.CreateDirectory(Path.Combine(cluster.Work.FullName, "redis"));
            await cluster.StartRedisAsync();
            for (var i = 0; i < hosts.Count; i++)
            {
                var name = hosts[i];
                var ns = cluster._net.AddHost(name, 11 + i);
                cluster._nodes[name] = new Node(name, ns, $"10.77.0.{11 + i}", Path.Combine(cluster.Work.FullName, name + ".sock"), Path.Combine(cluster.Work.FullName, name));
            }
            // Silo ports on mutual TLS, certificates from openssl as the README's manual steps make them.
            var ca = Path.Combine(cluster.Work.FullName, "ca");
            Security.TestPki.OpensslAuthority(ca, "kvt cluster CA");
            foreach (var n in cluster._nodes.Values) Security.TestPki.OpensslHost(ca, n.Name, n.Address, cluster.TlsDirectory(n.Name));
            foreach (var name in hosts) cluster.StartSilo(name);
            await cluster.WaitReachableAsync(hosts, TimeSpan.FromSeconds(90));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    // ---- Redis ----

    public async Task StartRedisAsync()
    {
        _redis?.Dispose();
        _redis = new ExternalProcess("ip", NetworkNamespaces.Exec(_redisNamespace, ExternalProcess.RedisServer(),
        [
            "--bind", RedisAddress, "--port", "6379", "--protected-mode", "no", "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", "--dir", Path.Combine(Work.FullName, "redis"),
        ]));
        await Until(async () =>
        {
            if (_redis.HasExited) throw new InvalidOperationException($"redis-server exited: {_redis.Output}");
            return await Task.FromResult(_redis.Output.Contains("Ready to accept connections", StringComparison.Ordinal));
        }, ok => ok, TimeSpan.FromSeconds(20), "Redis ready");
    }

    /// <summary>kill -9: what was acknowledged with appendfsync always is in the append-only file.</summary>
    public void KillRedis() => _redis?.KillHard();

    // ---- silos ----

    /// <summary>A host's TLS directory (its --tls-dir).</summary>
    public string TlsDirectory(string name) => Path.Combine(Work.FullName, "tls-" + name);

    public void StartSilo(string name)
    {
        var n = _nodes[name];
        if (n.Process is { } old) { n.Logs.Add(old.Output); old.Dispose(); }
        var env = new Dictionary<string, string>(_env)
        {
            ["KVMCLUSTER__HOSTREPORTSECONDS"] = "1",
            ["KVMCLUSTER__LABELS__hv"] = name,
            ["KVMCLUSTER__QEMU__MIGRATIONADDRESS"] = n.Address,
            ["KVMCLUSTER__SIMULATED__LISTENADDRESS"] = n.Address, // the simulated driver's transfers cross hosts too
            ["KVMCLUSTER__QEMU__ACCEL"] = "tcg",
            ["KVMCLUSTER__QEMU__IMAGEDIRECTORIES__0"] = Directory.CreateDirectory(Path.Combine(Work.FullName, "images")).FullName,
            [Hosting.FileFaultInjection.Variable] = Faults,
            // Times in the logs a failed case prints: which silo did what when.
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ",
        };
        if (_driver == "qemu") env["KVMCLUSTER__QEMU__BINARY"] = TestGuest.Qemu;
        n.Process = new ExternalProcess("ip", NetworkNamespaces.Exec(n.Namespace, "dotnet",
        [
            ExternalProcess.Kvmcluster, "silo", "--hypervisor", name, "--driver", _driver, "--redis", $"{RedisAddress}:6379",
            "--address", n.Address, "--silo-port", "11111", "--gateway-port", "30000",
            "--api-url", $"http://{n.Address}:8080", "--api-socket", n.Socket, "--api-token", Token,
            "--state-dir", n.State, "--planning-interval", "0", "--cluster-id", "kvt", "--dashboard", "false",
            "--tls-dir", TlsDirectory(name),
        ]), env);
        n.Http?.Dispose();
        n.Http = Client(n.Socket);
    }

    /// <summary>kill -9 of the silo process alone: its QEMUs live on, as on a hypervisor whose agent crashed.</summary>
    public void KillSilo(string name)
    {
        var n = _nodes[name];
        n.Process?.KillProcessOnly();
    }

    /// <summary>Redis and every silo up, every host reachable (after a case that failed half-way).</summary>
    public async Task EnsureUpAsync()
    {
        Release();
        if (_redis is null or { HasExited: true }) await StartRedisAsync();
        foreach (var n in _nodes.Values.Where(n => n.Process is null or { HasExited: true })) StartSilo(n.Name);
        await WaitReachableAsync(Hosts, TimeSpan.FromSeconds(90));
    }

    public bool IsUp(string name) => _nodes[name].Process is { HasExited: false };

    /// <summary>The silo process of a host (its pid tells a fault point's silo apart).</summary>
    public int? SiloPid(string name) => _nodes[name].Process is { HasExited: false } p ? p.Pid : null;

    public string StateOf(string name) => _nodes[name].State;

    /// <summary>The network namespace that is this host.</summary>
    public string NamespaceOf(string name) => _nodes[name].Namespace;

    /// <summary>A guest network bridged on these hosts (<see cref="NetworkNamespaces.AddGuestNetwork"/>).</summary>
    public void AddGuestNetwork(string bridge, params string[] hosts) => _net.AddGuestNetwork(bridge, hosts.Select(NamespaceOf));

    /// <summary>A guest's serial log on a host (its QEMU driver's state directory).</summary>
    public string Serial(string host, string guest) => GuestFiles.For(Path.Combine(StateOf(host), "qemu"), guest).Serial;

    public async Task WaitReachableAsync(IEnumerable<string> hosts, TimeSpan within)
    {
        var wanted = hosts.ToList();
        await Until(async () =>
        {
            foreach (var h in wanted) if (_nodes[h].Process is { HasExited: true } p) throw new InvalidOperationException($"silo {h} exited ({p.ExitCode}):\n{Tail(p.Output)}");
            try
            {
                var list = await GetAsync<JsonElement>("/api/hosts", wanted[0]);
                var reachable = wanted.Where(h => list.EnumerateArray().Any(x => x.GetProperty("name").GetString() == h && x.GetProperty("reachable").GetBoolean())).ToList();
                return (Ok: reachable.Count == wanted.Count, Seen: $"{wanted[0]} says reachable: {string.Join(", ", reachable)}");
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or SocketException) { return (Ok: false, Seen: $"{wanted[0]}: {e.GetBaseException().Message}"); }
        }, r => r.Ok, within, $"hosts {string.Join(", ", wanted)} reachable");
    }

    /// <summary>Every QEMU process running the guest, by host (its QMP socket lies in the host's state directory).</summary>
    public List<(string Host, int Pid)> Qemus(string guest)
    {
        var found = new List<(string, int)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            string cmdline;
            try { cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' '); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            if (!cmdline.Contains("qemu-system", StringComparison.Ordinal) || !cmdline.Contains($"guest={guest},", StringComparison.Ordinal)) continue;
            if (File.Exists(Path.Combine(dir, "stat")) && File.ReadAllText(Path.Combine(dir, "stat")).Split(' ')[2] == "Z") continue; // a zombie is gone
            var host = Hosts.FirstOrDefault(h => cmdline.Contains(GuestFiles.For(Path.Combine(StateOf(h), "qemu"), guest).Qmp, StringComparison.Ordinal));
            found.Add((host ?? "?", pid));
        }
        return found;
    }

    /// <summary>Redis started again with nothing in it (its append-only file removed): every record the cluster kept is gone.</summary>
    public async Task WipeRedisAsync()
    {
        _redis?.KillHard();
        _redis?.Dispose();
        _redis = null;
        foreach (var f in Directory.EnumerateFileSystemEntries(Path.Combine(Work.FullName, "redis")))
        {
            if (Directory.Exists(f)) Directory.Delete(f, recursive: true);
            else File.Delete(f);
        }
        await StartRedisAsync();
    }

    // ---- API ----

    private static HttpClient Client(string socket) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, ct) =>
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try { await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), ct); }
            catch { s.Dispose(); throw; }
            return new NetworkStream(s, ownsSocket: true);
        },
    })
    {
        BaseAddress = new Uri("http://kvmcluster"),
        Timeout = TimeSpan.FromSeconds(40),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", Token) },
    };

    /// <summary>The API of a given silo, or of the first one that is up.</summary>
    public HttpClient Api(string? via = null) =>
        (via is not null ? _nodes[via] : _nodes.Values.FirstOrDefault(n => n.Process is { HasExited: false }) ?? throw new InvalidOperationException("no silo is up")).Http!;

    public async Task<T> GetAsync<T>(string path, string? via = null)
    {
        using var response = await Api(via).GetAsync(path);
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"GET {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}", null, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<T>())!;
    }

    public async Task<JsonElement> PostAsync(string path, object body, string? via = null)
    {
        using var response = await Api(via).PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"POST {path}: {(int)response.StatusCode} {text}", null, response.StatusCode);
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Any silo that answers (right after a kill some do not).</summary>
    public async Task<T> AskAnyAsync<T>(Func<string, Task<T>> ask)
    {
        Exception? last = null;
        foreach (var n in _nodes.Values.Where(n => n.Process is { HasExited: false }))
        {
            try { return await ask(n.Name); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or SocketException) { last = e; }
        }
        throw last ?? new InvalidOperationException("no silo is up");
    }

    // ---- fault points ----

    /// <summary>Stops the first silo that reaches <paramref name="point"/> for <paramref name="guest"/>.</summary>
    public void Arm(string point, string guest)
    {
        Release();
        File.WriteAllText(Path.Combine(Faults, "arm"), $"{point} {guest}");
    }

    public sealed record Reached(string Point, string Guest, int Pid, string Hypervisor);

    /// <summary>The silo stopped at the armed point (or null if the migration ended without reaching it).</summary>
    public async Task<Reached?> WaitReachedAsync(Func<Task<bool>> ended, TimeSpan within)
    {
        var file = Path.Combine(Faults, "reached");
        return await Until(async () =>
        {
            if (File.Exists(file))
            {
                var parts = (await File.ReadAllTextAsync(file)).Split(' ');
                return (Done: true, Hit: new Reached(parts[0], parts[1], int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture), parts[3]));
            }
            return (Done: await ended(), Hit: (Reached?)null);
        }, r => r.Done, within, "the fault point").ContinueWith(t => t.Result.Hit);
    }

    /// <summary>Lets a silo stopped at a fault point go on; disarms what was not reached.</summary>
    public void Release()
    {
        foreach (var f in new[] { "arm", "reached" }) File.Delete(Path.Combine(Faults, f));
    }

    public string Logs(string name)
    {
        var n = _nodes[name];
        return string.Join("\n--- (restarted) ---\n", n.Logs.Append(n.Process?.Output ?? ""));
    }

    /// <summary>Every silo's and Redis's whole output, written under /tmp/kvmcluster-fault-logs/CASE; the tails, and where the rest is.</summary>
    public string AllLogs(string @case)
    {
        var dir = Directory.CreateDirectory(Path.Combine("/tmp", "kvmcluster-fault-logs", @case)).FullName;
        foreach (var h in _nodes.Keys) File.WriteAllText(Path.Combine(dir, h + ".log"), Logs(h));
        File.WriteAllText(Path.Combine(dir, "redis.log"), _redis?.Output ?? "");
        var views = string.Join("\n", _nodes.Keys.Select(h =>
        {
            if (!IsUp(h)) return $"{h}: silo down";
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                var cluster = _nodes[h].Http!.GetStringAsync("/api/cluster", cts.Token).GetAwaiter().GetResult();
                var hosts = _nodes[h].Http!.GetStringAsync("/api/hosts", cts.Token).GetAwaiter().GetResult();
                return $"{h}: cluster {cluster}\n{h}: hosts {Tail(hosts, 1500)}";
            }
            catch (Exception e) { return $"{h}: API {e.GetBaseException().Message}"; }
        }));
        File.WriteAllText(Path.Combine(dir, "views.txt"), views);
        return $"whole logs in {dir}\n{views}\n" + string.Join("\n", _nodes.Keys.Select(h => $"--- silo {h} ---\n{Tail(Logs(h), 3000)}"));
    }

    public static string Tail(string s, int chars = 4000) => s.Length > chars ? s[^chars..] : s;

    public static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan within, string what)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var v = await probe();
            if (done(v)) return v;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: not reached within {within.TotalSeconds} s (last: {(v is JsonElement j ? j.ToString() : v?.ToString())})");
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Release();
        foreach (var n in _nodes.Values) { n.Http?.Dispose(); n.Process?.Dispose(); }
        _redis?.Dispose();
        _net.Dispose(); // and every QEMU still running inside
        await Task.Delay(100);
        try { Work.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
