using System.Security.Cryptography.X509Certificates;
using KvmCluster.Hosting;

namespace KvmCluster.Hosting.Security;

/// <summary>
/// A host's TLS files, laid out as QEMU's <c>tls-creds-x509</c> object reads them (libvirt's /etc/pki/qemu layout), so
/// the same directory serves the silo ports, the API and QEMU's migration and NBD streams:
/// <c>ca-cert.pem</c> (the cluster's authority), <c>server-cert.pem</c> + <c>server-key.pem</c> (this host),
/// <c>client-cert.pem</c> + <c>client-key.pem</c> (this host when it connects; the same certificate).
/// </summary>
public sealed class TlsDirectory
{
    public const string AuthorityFile = "ca-cert.pem";
    public const string ServerCertificateFile = "server-cert.pem";
    public const string ServerKeyFile = "server-key.pem";
    public const string ClientCertificateFile = "client-cert.pem";
    public const string ClientKeyFile = "client-key.pem";

    public string Path { get; }

    private TlsDirectory(string path) => Path = path;

    /// <summary>Checks the directory's files exist and its keys are readable by their owner only.</summary>
    public static TlsDirectory Open(string path)
    {
        if (!System.IO.Path.IsPathFullyQualified(path) || !Directory.Exists(path))
            throw new UsageException($"--tls-dir: '{path}' is not an existing absolute directory (make one with 'kvmcluster certs host')");
        var d = new TlsDirectory(path);
        foreach (var f in new[] { AuthorityFile, ServerCertificateFile, ServerKeyFile })
            if (!System.IO.File.Exists(d.File(f))) throw new UsageException($"--tls-dir: {d.File(f)} is missing");
        foreach (var key in new[] { ServerKeyFile, ClientKeyFile })
            if (System.IO.File.Exists(d.File(key)) && !OperatingSystem.IsWindows()
                && (System.IO.File.GetUnixFileMode(d.File(key)) & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
                throw new UsageException($"--tls-dir: {d.File(key)} is readable by group or others; a private key must be mode 0600 (chmod 600)");
        return d;
    }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public X509Certificate2 LoadAuthority()
    {
        try { return X509CertificateLoader.LoadCertificateFromFile(File(AuthorityFile)); }
        catch (System.Security.Cryptography.CryptographicException e) { throw new UsageException($"--tls-dir: {File(AuthorityFile)} is not a PEM certificate: {e.Message}"); }
    }

    public X509Certificate2 LoadServer()
    {
        try { return X509Certificate2.CreateFromPemFile(File(ServerCertificateFile), File(ServerKeyFile)); }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new UsageException($"--tls-dir: {File(ServerCertificateFile)} with {File(ServerKeyFile)} is not a PEM certificate and its key: {e.Message}");
        }
    }
}
