using Orleans.Connections.Security;

namespace KvmCluster.Hosting.Security;

/// <summary>
/// Mutual TLS on the silo-to-silo and gateway ports (Orleans.Connections.Security): both ends present a certificate
/// and accept only one the cluster's identity trusts, so a silo or client without the cluster's credentials cannot
/// join, read or call anything.
/// </summary>
public static class ClusterTransport
{
    public static ISiloBuilder UseClusterTransportSecurity(this ISiloBuilder silo, ClusterIdentity identity) =>
        silo.UseTls(identity.Certificate, o =>
        {
            o.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            o.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
            // Silos dial each other by address; the chain to the cluster's authority is what is checked, not the name.
            o.RemoteCertificateValidation = (certificate, _, _) => identity.Trusts(certificate);
        });

    /// <summary>The same, for an Orleans client (tools and tests that call grains directly).</summary>
    public static IClientBuilder UseClusterTransportSecurity(this IClientBuilder client, ClusterIdentity identity) =>
        client.UseTls(identity.Certificate, o =>
        {
            o.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            o.RemoteCertificateValidation = (certificate, _, _) => identity.Trusts(certificate);
        });
}
