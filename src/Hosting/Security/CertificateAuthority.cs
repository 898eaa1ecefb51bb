using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KvmCluster.Hosting.Security;

/// <summary>
/// A cluster's own certificate authority, as <c>kvmcluster certs</c> makes it: ECDSA P-256 keys, a CA certificate that
/// signs only host certificates (path length 0), host certificates naming the host and its addresses (what QEMU's
/// <c>tls-hostname</c> and the silo ports check) for both server and client authentication.
/// </summary>
public sealed class CertificateAuthority(X509Certificate2 certificate)
{
    public X509Certificate2 Certificate { get; } = certificate;

    public static CertificateAuthority Create(string name, DateTimeOffset now, int days)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}, O=kvmcluster", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return new CertificateAuthority(request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(days)));
    }

    /// <summary>A host's certificate and its new key, signed by this authority.</summary>
    public X509Certificate2 Issue(string host, IReadOnlyList<IPAddress> addresses, DateTimeOffset now, int days)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={host}, O=kvmcluster", key, HashAlgorithmName.SHA256);
        AddTlsEndpointExtensions(request, host, addresses);
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        var notAfter = now.AddDays(days) < Certificate.NotAfter ? now.AddDays(days) : new DateTimeOffset(Certificate.NotAfter.ToUniversalTime());
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f; // a positive serial number
        using var signed = request.Create(Certificate, now.AddMinutes(-5), notAfter, serial);
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary>What both ends of a TLS connection check: a leaf, for servers and clients, naming the host and its addresses.</summary>
    internal static void AddTlsEndpointExtensions(CertificateRequest request, string host, IReadOnlyList<IPAddress> addresses)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication"), new Oid("1.3.6.1.5.5.7.3.2", "Client Authentication")], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(host);
        foreach (var a in addresses) names.AddIpAddress(a);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
    }
}
