namespace KvmCluster.Hosting;

/// <summary>
/// The silo's configuration: `appsettings.json` section "KvmCluster", environment variables `KVMCLUSTER__…`
/// (e.g. KVMCLUSTER__REDIS), then flags. Defaults run a single embedded node out of the box.
/// </summary>
public sealed class SiloSettings
{
    public string ClusterId { get; set; } = "kvm-fleet";
    public string ServiceId { get; set; } = "kvmcluster";
    /// <summary>This hypervisor's name (default: the machine's host name).</summary>
    public string Hypervisor { get; set; } = Environment.MachineName.ToLowerInvariant();
    /// <summary>Address other silos reach this one on.</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";
    public int SiloPort { get; set; } = 11111;
    public int GatewayPort { get; set; } = 30000;
    /// <summary>Redis connection string; empty = embedded (single node, in-memory state).</summary>
    public string? Redis { get; set; }
    /// <summary>A file (mode 0600) holding Redis' password (requirepass), kept off the command line.</summary>
    public string? RedisPasswordFile { get; set; }
    public string ApiUrl { get; set; } = "http://127.0.0.1:8080";
    /// <summary>Also serve the API on this unix socket (mode 0600: this host's root tools, no network at all).</summary>
    public string? ApiSocket { get; set; }
    /// <summary>Bearer token for mutating API calls; empty = a random one written to {StateDirectory}/api-token.</summary>
    public string? ApiToken { get; set; }
    /// <summary>
    /// The host's TLS directory (ca-cert.pem, server-cert.pem, server-key.pem, …; `kvmcluster certs host`): mutual TLS
    /// on the silo and gateway ports, HTTPS for an https API URL.
    /// </summary>
    public string? TlsDirectory { get; set; }
    /// <summary>Run a Redis cluster's silo and gateway ports without TLS (anyone who reaches them can call every grain).</summary>
    public bool InsecureTransport { get; set; }
    /// <summary>Further names the API answers to in its Host header (a DNS name of this host, a load balancer's).</summary>
    public List<string> ApiAllowedHosts { get; set; } = [];
    /// <summary>Serve reads (GET) without a token, as before roles existed; default: every request names its caller.</summary>
    public bool ApiOpenReads { get; set; }
    /// <summary>Requests per second one caller may make to the API (a burst of twice that); beyond, 429.</summary>
    public int ApiRequestsPerSecond { get; set; } = 1000;
    /// <summary>`qemu` or `simulated`.</summary>
    public string Driver { get; set; } = "simulated";
    /// <summary>`none`, `ipmitool` or `command`.</summary>
    public string Power { get; set; } = "none";
    public string StateDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "kvmcluster");
    /// <summary>Seconds between two planning rounds (0 = only on request).</summary>
    public double PlanningIntervalSeconds { get; set; } = 60;
    public double HostReportSeconds { get; set; } = 10;
    /// <summary>Days a finished migration's record is kept (its events stay in the event log); 7 by default.</summary>
    public double MigrationRetentionDays { get; set; } = 7;
    /// <summary>Plans the scheduler keeps (an approved or executing one is kept whatever its age).</summary>
    public int PlansKept { get; set; } = 50;
    /// <summary>
    /// Seconds of fleet time between two usage samples of every guest (300, as CloudSim and PlanetLab). The simulated
    /// driver samples TimeScale times as often in real time.
    /// </summary>
    public double SampleIntervalSeconds { get; set; } = 300;
    /// <summary>Labels of this silo's host(s) (KvmCluster:Labels:zone=a): what host-affinity rules and filters match.</summary>
    public Dictionary<string, string> Labels { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Notice a dead host in seconds rather than a minute (see README, Redis clustering).</summary>
    public bool FastFailureDetection { get; set; } = true;
    /// <summary>
    /// Simulated driver only: how many hypervisors this silo simulates. 1 = just <see cref="Hypervisor"/>; more = a
    /// simulated fleet named {Hypervisor}-001, -002, … (to try policies, and for benchmarks).
    /// </summary>
    public int SimulatedHosts { get; set; } = 1;
    /// <summary>Serve the Orleans Dashboard at /dashboard (behind the token).</summary>
    public bool Dashboard { get; set; } = true;

    /// <summary>These settings for another hypervisor on this machine (its own state directory below this one's).</summary>
    public SiloSettings For(string hypervisor)
    {
        var copy = (SiloSettings)MemberwiseClone();
        copy.Hypervisor = hypervisor;
        copy.StateDirectory = Path.Combine(StateDirectory, hypervisor);
        return copy;
    }

    /// <summary>The hypervisors this silo runs.</summary>
    public IReadOnlyList<string> Hypervisors() => SimulatedHosts <= 1
        ? [Hypervisor]
        : [.. Enumerable.Range(1, SimulatedHosts).Select(i => $"{Hypervisor}-{i:D3}")];
}
