using System.Security.Cryptography.X509Certificates;
using KvmCluster.Hosting;
using StackExchange.Redis;

namespace KvmCluster.Hosting.Security;

/// <summary>
/// How a silo connects to Redis, the fleet's memory: the connection string (StackExchange.Redis syntax), a password
/// from a file rather than the command line (KvmCluster:RedisPasswordFile, mode 0600), and with <c>ssl=true</c> TLS in
/// which the server's certificate must come from the cluster's authority and the silo presents its own (for Redis'
/// <c>tls-auth-clients yes</c>).
/// </summary>
public static class RedisConnection
{
    public static ConfigurationOptions Options(SiloSettings settings, ClusterIdentity? identity)
    {
        ConfigurationOptions options;
        try { options = ConfigurationOptions.Parse(settings.Redis!); }
        catch (ArgumentException e) { throw new UsageException($"--redis: {e.Message}"); }
        if (!string.IsNullOrWhiteSpace(settings.RedisPasswordFile))
        {
            if (!File.Exists(settings.RedisPasswordFile)) throw new UsageException($"KvmCluster:RedisPasswordFile: {settings.RedisPasswordFile} does not exist");
            PrivateFiles.CheckSecret(settings.RedisPasswordFile, "KvmCluster:RedisPasswordFile");
            options.Password = File.ReadAllText(settings.RedisPasswordFile).Trim();
        }
        if (options.Ssl && identity?.Authority is not null)
        {
            options.CertificateValidation += (_, certificate, _, _) =>
                certificate is not null && identity.Trusts(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
            options.CertificateSelection += (_, _, _, _, _) => identity.Certificate;
        }
        return options;
    }

    /// <summary>
    /// Connects once before the silo starts: a refused password or TLS handshake is a mistake in the settings (exit 2,
    /// one line), not a minute of Orleans start-up errors. Redis merely not reachable yet is left to Orleans' retries.
    /// </summary>
    public static async Task CheckAsync(ConfigurationOptions options)
    {
        var probe = options.Clone();
        probe.AbortOnConnectFail = true;
        probe.ConnectTimeout = 5000;
        probe.ConnectRetry = 1;
        try
        {
            await using var redis = await ConnectionMultiplexer.ConnectAsync(probe);
            await redis.GetDatabase().PingAsync();
        }
        catch (RedisConnectionException e) when (e.FailureType == ConnectionFailureType.AuthenticationFailure
            || e.GetBaseException() is System.Security.Authentication.AuthenticationException)
        {
            throw new UsageException($"--redis: Redis refused this silo: {FirstSentence(e.Message)} (password: KvmCluster:RedisPasswordFile; TLS: ssl=true and the cluster's --tls-dir)");
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Not reachable (yet): Orleans keeps trying, as before.
        }
    }

    private static string FirstSentence(string message)
    {
        var i = message.IndexOf("; check", StringComparison.Ordinal);
        return i > 0 ? message[..i] : message;
    }
}
