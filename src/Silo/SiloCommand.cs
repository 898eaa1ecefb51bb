using System.CommandLine;
using KvmCluster.Grains.Contracts;
using KvmCluster.Hosting;
using KvmCluster.Silo.Api;
using OpenTelemetry.Metrics;
using Orleans.Dashboard;

namespace KvmCluster.Silo;

/// <summary>
/// `kvmcluster silo` (the default verb): one silo on this hypervisor, with its REST API. No Redis configured →
/// embedded single node; Redis → a member of the cluster.
/// </summary>
public static class SiloCommand
{
    public static Command Create()
    {
        var cmd = new Command("silo", "Run a silo on this hypervisor (the default verb)");
        var options = new (Option<string?> Option, string Key)[]
        {
            (new("--cluster-id") { Description = "Cluster id (all silos of a cluster share it)" }, "ClusterId"),
            (new("--service-id") { Description = "Service id" }, "ServiceId"),
            (new("--hypervisor") { Description = "This hypervisor's name (default: host name)" }, "Hypervisor"),
            (new("--address") { Description = "Address other silos reach this one on" }, "AdvertisedAddress"),
            (new("--silo-port") { Description = "Silo-to-silo port (11111)" }, "SiloPort"),
            (new("--gateway-port") { Description = "Client gateway port (30000)" }, "GatewayPort"),
            (new("--redis") { Description = "Redis connection string; none = embedded single node" }, "Redis"),
            (new("--api-url") { Description = "API listen URL (http://127.0.0.1:8080)" }, "ApiUrl"),
            (new("--api-socket") { Description = "Also serve the API on this unix socket (mode 0600)" }, "ApiSocket"),
            (new("--api-token") { Description = "Bearer token for changes (default: random, in {state}/api-token)" }, "ApiToken"),
            (new("--tls-dir") { Description = "This host's TLS directory (kvmcluster certs host): mutual TLS between silos, HTTPS API" }, "TlsDirectory"),
            (new("--insecure-transport") { Description = "Redis clustering without TLS on the silo and gateway ports (true/false)" }, "InsecureTransport"),
            (new("--open-reads") { Description = "Serve reads (GET) without a token (false)" }, "ApiOpenReads"),
            (new("--driver") { Description = "Hypervisor driver: simulated or qemu" }, "Driver"),
            (new("--power") { Description = "Power controller: none, command (KvmCluster:Power:Command) or ipmitool (KvmCluster:Power:Hosts)" }, "Power"),
            (new("--state-dir") { Description = "State directory (token, sockets, logs)" }, "StateDirectory"),
            (new("--planning-interval") { Description = "Seconds between planning rounds; 0 = on request only" }, "PlanningIntervalSeconds"),
            (new("--sample-interval") { Description = "Seconds of fleet time between usage samples of every guest (300)" }, "SampleIntervalSeconds"),
            (new("--dashboard") { Description = "Serve the Orleans Dashboard at /dashboard (true)" }, "Dashboard"),
            (new("--simulated-hosts") { Description = "Simulated driver: run N hypervisors named HYPERVISOR-001… in this silo (1)" }, "SimulatedHosts"),
        };
        foreach (var (o, _) in options) cmd.Options.Add(o);
        cmd.SetAction(async (parse, ct) =>
        {
            var flags = options.Where(o => parse.GetValue(o.Option) is not null)
                .ToDictionary(o => "KvmCluster:" + o.Key, o => parse.GetValue(o.Option));
            await RunAsync(flags, ct);
            return 0;
        });
        return cmd;
    }

    public static async Task RunAsync(IReadOnlyDictionary<string, string?> flags, CancellationToken ct)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(flags);
        var settings = new SiloSettings();
        try { builder.Configuration.GetSection("KvmCluster").Bind(settings); }
        catch (InvalidOperationException e) { throw new UsageException(e.GetBaseException().Message); }
        Validate(settings);
        KvmCluster.Hosting.Security.PrivateFiles.EnsureDirectory(settings.StateDirectory, "--state-dir");

        // A body beyond this is a 413 before it is read (Kestrel's limit), not a 30 MB string parsed and refused.
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = Api.ApiJson.MaxBodyBytes);
        var apiUri = new Uri(settings.ApiUrl);
        if (apiUri.Scheme == "https")
        {
            if (string.IsNullOrWhiteSpace(settings.TlsDirectory)) throw new UsageException("--api-url: an https URL needs --tls-dir (its server-cert.pem is the API's certificate)");
            var server = KvmCluster.Hosting.Security.TlsDirectory.Open(settings.TlsDirectory).LoadServer();
            builder.WebHost.ConfigureKestrel(k => k.ConfigureHttpsDefaults(h => h.ServerCertificate = server));
        }
        if (string.IsNullOrEmpty(settings.ApiSocket)) builder.WebHost.UseUrls(settings.ApiUrl);
        else
        {
            if (File.Exists(settings.ApiSocket)) File.Delete(settings.ApiSocket); // a previous run's socket
            builder.WebHost.UseUrls(settings.ApiUrl, "http://unix:" + settings.ApiSocket);
        }
        builder.Services.AddSingleton(settings);
        builder.Services.Configure<KvmCluster.Hosting.Drivers.SimulatedDriverOptions>(builder.Configuration.GetSection("KvmCluster:Simulated"));
        builder.Services.Configure<KvmCluster.Hosting.Drivers.Qemu.QemuOptions>(builder.Configuration.GetSection("KvmCluster:Qemu"));
        var power = new KvmCluster.Hosting.Power.PowerOptions();
        try { builder.Configuration.GetSection("KvmCluster:Power").Bind(power); }
        catch (InvalidOperationException e) { throw new UsageException("KvmCluster:Power: " + e.GetBaseException().Message); }
        if (KvmCluster.Hosting.Power.PowerStatus.Problems(settings.Power, power).FirstOrDefault() is { } powerProblem) throw new UsageException(powerProblem);
        builder.Services.Configure<KvmCluster.Hosting.Power.PowerOptions>(builder.Configuration.GetSection("KvmCluster:Power"));
        builder.Services.AddSingleton<ApiToken>();
        builder.Services.AddSingleton<Callers>();
        builder.Services.AddRequestLimits(settings);
        builder.Services.AddProblemDetails();
        // A path or query value that does not bind (limit=abc) is thrown, so the problem says which and why.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            foreach (var c in Grains.Serialization.PolicyTypesSerialization.Options.Converters) o.SerializerOptions.Converters.Add(c);
        });
        // One line per request is noise on a hypervisor; warnings and our own messages stay.
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning).AddFilter("Orleans", LogLevel.Warning).AddFilter("System.Net.Http", LogLevel.Warning).AddFilter("Polly", LogLevel.Warning);
        builder.Services.AddOpenApi();
        builder.UseOrleans(silo =>
        {
            silo.AddKvmClustering(settings).AddKvmCluster(settings.Hypervisors(), settings);
            if (settings.Dashboard) silo.AddDashboard();
        });
        // Orleans' instruments (messaging, activations, reminders, …) and ours, for Prometheus at /metrics.
        builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeter("Microsoft.Orleans").AddMeter(Grains.Telemetry.KvmMeters.Name).AddPrometheusExporter());

        PortCheck.EnsureFree(settings); // last: every other mistake in the settings is reported first
        if (!string.IsNullOrWhiteSpace(settings.Redis))
            await KvmCluster.Hosting.Security.RedisConnection.CheckAsync(KvmCluster.Hosting.Security.RedisConnection.Options(settings, KvmSiloBuilder.TransportIdentity(settings)));
        var app = builder.Build();
        var token = app.Services.GetRequiredService<ApiToken>();
        app.UseProblems();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(20) });
        app.UseHostGuard(settings);
        app.UseRateLimiter();
        app.UseAccessGuard(app.Services.GetRequiredService<Callers>(), settings);
        app.MapOpenApi();
        app.MapGet("/healthz", () => Results.Ok(new { status = "ok", hypervisor = settings.Hypervisor })).DisableRateLimiting(); // monitors poll it
        app.MapKvmApi();
        app.MapPrometheusScrapingEndpoint(AccessGuard.MetricsPath);
        if (settings.Dashboard) app.MapOrleansDashboard(AccessGuard.DashboardPath);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            if (!string.IsNullOrEmpty(settings.ApiSocket) && !OperatingSystem.IsWindows()) File.SetUnixFileMode(settings.ApiSocket, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            _ = AnnounceHost(app, settings);
        });
        var log = app.Logger;
        if (settings.InsecureTransport)
            log.LogWarning("INSECURE: the silo port {SiloPort} and gateway port {GatewayPort} on {Address} accept anyone who reaches them (--insecure-transport); give every silo --tls-dir",
                settings.SiloPort, settings.GatewayPort, settings.AdvertisedAddress);
        if (apiUri.Scheme == "http" && !IsLoopback(apiUri))
            log.LogWarning("INSECURE: the API on {Url} is plain HTTP beyond loopback: tokens and guest specs cross the network in clear; use an https URL with --tls-dir", settings.ApiUrl);
        log.LogInformation("kvmcluster silo for hypervisor {Hypervisor}: {Mode}, API {Url}{Token}", settings.Hypervisor,
            (string.IsNullOrWhiteSpace(settings.Redis) ? "embedded (single node, in-memory state)" : "Redis clustering")
            + (settings.InsecureTransport ? ", silo ports without TLS" : string.IsNullOrWhiteSpace(settings.TlsDirectory) ? ", silo ports open to this process only" : ", silo ports on mutual TLS"),
            settings.ApiUrl, token.File is null ? "" : $", token in {token.File}");
        await app.RunAsync(ct);
    }

    /// <summary>
    /// Wakes this silo's host grains so they report to the scheduler (and keep doing so on their timers), and keeps
    /// them awake: a host grain Orleans deactivated (a storage conflict after Redis came back, say) has no timer left
    /// and would fall silent for good, its host shown unreachable while its silo runs. A cheap call brings it back.
    /// </summary>
    private static async Task AnnounceHost(WebApplication app, SiloSettings settings)
    {
        var grains = app.Services.GetRequiredService<IGrainFactory>();
        var stopping = app.Lifetime.ApplicationStopping;
        for (var attempt = 0; attempt < 30 && !stopping.IsCancellationRequested; attempt++)
        {
            try
            {
                foreach (var hv in settings.Hypervisors()) await grains.GetGrain<IHostGrain>(hv).Refresh();
                break;
            }
            catch (Exception e)
            {
                // Right after joining, this silo's metadata may not have reached the placing silo yet.
                app.Logger.LogDebug(e, "host grain not ready yet");
                await Task.Delay(500);
            }
        }
        var every = TimeSpan.FromSeconds(Math.Max(1, settings.HostReportSeconds));
        while (!stopping.IsCancellationRequested)
        {
            try { await Task.Delay(every, stopping); }
            catch (OperationCanceledException) { return; }
            foreach (var hv in settings.Hypervisors())
            {
                try { await grains.GetGrain<IHostGrain>(hv).Silo().WaitAsync(every * 3, stopping); }
                catch (Exception e) when (!stopping.IsCancellationRequested) { app.Logger.LogDebug("host grain {Host} not awake yet: {Error}", hv, e.GetBaseException().Message); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    /// <summary>Whether an API URL is reachable from this machine only.</summary>
    internal static bool IsLoopback(Uri url) =>
        url.IsLoopback || System.Net.IPAddress.TryParse(url.Host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip);

    private static void Validate(SiloSettings s)
    {
        if (Policies.Model.GuestName.Problem(s.Hypervisor) is { } p) throw new UsageException($"--hypervisor: {p.Replace("guest name", "hypervisor name")}");
        if (!Uri.TryCreate(s.ApiUrl, UriKind.Absolute, out var api) || api.Scheme is not ("http" or "https"))
            throw new UsageException($"--api-url: '{s.ApiUrl}' is not an http(s) URL");
        if (!string.IsNullOrEmpty(s.ApiSocket) && (!Path.IsPathFullyQualified(s.ApiSocket) || s.ApiSocket.Length > 100 || Directory.Exists(s.ApiSocket)))
            throw new UsageException($"--api-socket: '{s.ApiSocket}' must be an absolute file path of at most 100 characters");
        if (!System.Net.IPAddress.TryParse(s.AdvertisedAddress, out _)) throw new UsageException($"--address: '{s.AdvertisedAddress}' is not an IP address");
        if (s.SiloPort is < 1 or > 65535 || s.GatewayPort is < 1 or > 65535) throw new UsageException("--silo-port/--gateway-port must be 1..65535");
        if (s.PlanningIntervalSeconds < 0) throw new UsageException("--planning-interval must be ≥ 0");
        if (s.SampleIntervalSeconds is < 1 or > 86_400) throw new UsageException("--sample-interval must be 1..86400 seconds");
        foreach (var (k, v) in s.Labels)
            if ((Policies.Model.HostLabel.KeyProblem(k) ?? Policies.Model.HostLabel.ValueProblem(k, v)) is { } problem) throw new UsageException($"KvmCluster:Labels: {problem}");
        // QMP sockets live there: a unix socket path has at most 107 bytes.
        if (s.StateDirectory.Length > 60 || !Path.IsPathFullyQualified(s.StateDirectory)) throw new UsageException($"--state-dir: '{s.StateDirectory}' must be an absolute path of at most 60 characters");
        if (s.ApiRequestsPerSecond is < 10 or > 1_000_000) throw new UsageException("KvmCluster:ApiRequestsPerSecond must be 10..1000000");
        if (s.MigrationRetentionDays is < 0.001 or > 3650 || double.IsNaN(s.MigrationRetentionDays)) throw new UsageException("KvmCluster:MigrationRetentionDays must be 0.001..3650");
        if (s.PlansKept is < 1 or > 10_000) throw new UsageException("KvmCluster:PlansKept must be 1..10000");
        if (s.SimulatedHosts is < 1 or > 10_000) throw new UsageException("--simulated-hosts must be 1..10000");
        if (s.SimulatedHosts > 1 && s.Driver != "simulated") throw new UsageException("--simulated-hosts needs --driver simulated");
    }
}
