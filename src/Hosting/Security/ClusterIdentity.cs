using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KvmCluster.Hosting;

namespace KvmCluster.Hosting.Security;

/// <summary>
/// What a silo presents on its silo-to-silo and gateway ports, and whom it lets in: peers whose certificate the
/// cluster's authority signed (a TLS directory), or — for an embedded node — only its own, made at start-up, so
/// nothing outside this process can connect at all.
/// </summary>
public sealed class ClusterIdentity
{
    /// <summary>This silo's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The cluster's authority; null when the identity is pinned to <see cref="Certificate"/> itself.</summary>
    public X509Certificate2? Authority { get; }

    /// <summary>Where the identity came from, for the start-up log.</summary>
    public string Source { get; }

    private ClusterIdentity(X509Certificate2 certificate, X509Certificate2? authority, string source) =>
        (Certificate, Authority, Source) = (certificate, authority, source);

    /// <summary>The certificates of a TLS directory (see <see cref="TlsDirectory"/>); every problem is a usage error naming the file.</summary>
    public static ClusterIdentity FromDirectory(string directory)
    {
        var files = TlsDirectory.Open(directory);
        var identity = new ClusterIdentity(files.LoadServer(), files.LoadAuthority(), $"TLS directory {directory}");
        if (!identity.Trusts(identity.Certificate))
            throw new UsageException($"--tls-dir: {files.File(TlsDirectory.ServerCertificateFile)} is not signed by {files.File(TlsDirectory.AuthorityFile)}, "
                + $"or is not valid now (valid {identity.Certificate.NotBefore:u} to {identity.Certificate.NotAfter:u})");
        return identity;
    }

    /// <summary>A self-signed certificate made now, trusted only by this process (an embedded node's silos and gateway).</summary>
    public static ClusterIdentity Ephemeral(string name, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}, O=kvmcluster embedded", key, HashAlgorithmName.SHA256);
        CertificateAuthority.AddTlsEndpointExtensions(request, name, []);
        var cert = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(1));
        return new ClusterIdentity(cert, null, "a certificate made at start-up, trusted by this process only");
    }

    /// <summary>Whether a peer may connect: its chain ends at the cluster's authority (or it is this very certificate).</summary>
    public bool Trusts(X509Certificate2? remote)
    {
        if (remote is null) return false;
        if (Authority is null) return remote.RawDataMemory.Span.SequenceEqual(Certificate.RawDataMemory.Span);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Authority);
        // The cluster's own authority publishes no revocation list; a compromised host's certificate is dealt with by
        // making a new authority (README, security).
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = DateTime.Now;
        if (!chain.Build(remote)) return false;
        var root = chain.ChainElements[^1].Certificate;
        return root.RawDataMemory.Span.SequenceEqual(Authority.RawDataMemory.Span);
    }
}
