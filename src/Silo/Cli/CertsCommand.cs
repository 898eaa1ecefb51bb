using System.CommandLine;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KvmCluster.Hosting;
using KvmCluster.Hosting.Security;

namespace KvmCluster.Silo.Cli;

/// <summary>
/// <c>kvmcluster certs ca|host</c>: a cluster's certificate authority and each host's TLS directory (see
/// <see cref="TlsDirectory"/>), without openssl. Keep the authority's key off the hypervisors once the hosts have theirs.
/// </summary>
public static class CertsCommand
{
    private const string AuthorityKeyFile = "ca-key.pem";

    public static Command Create()
    {
        var cmd = new Command("certs", "Make the cluster's certificate authority and each host's TLS directory (--tls-dir)");

        var caOut = new Option<DirectoryInfo>("--out") { Description = "Directory for ca-cert.pem and ca-key.pem (made, mode 0700)", Required = true };
        var caName = new Option<string>("--name") { Description = "The authority's common name", DefaultValueFactory = _ => "kvmcluster CA" };
        var caDays = new Option<int>("--days") { Description = "Validity in days", DefaultValueFactory = _ => 3650 };
        var ca = new Command("ca", "Make a new certificate authority for a cluster") { caOut, caName, caDays };
        ca.SetAction(parse =>
        {
            var dir = PrivateDirectory(parse.GetValue(caOut)!.FullName);
            Refuse(dir, TlsDirectory.AuthorityFile, AuthorityKeyFile);
            var days = Days(parse.GetValue(caDays));
            var authority = CertificateAuthority.Create(parse.GetValue(caName)!, DateTimeOffset.UtcNow, days);
            Write(Path.Combine(dir, TlsDirectory.AuthorityFile), authority.Certificate.ExportCertificatePem(), secret: false);
            Write(Path.Combine(dir, AuthorityKeyFile), authority.Certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem(), secret: true);
            Console.WriteLine($"certificate authority in {dir} (valid until {authority.Certificate.NotAfter:yyyy-MM-dd}); keep {AuthorityKeyFile} off the hypervisors");
            return 0;
        });

        var hostCa = new Option<DirectoryInfo>("--ca") { Description = "The authority's directory (from 'certs ca')", Required = true };
        var hostName = new Option<string>("--name") { Description = "The host's name (its --hypervisor)", Required = true };
        var hostAddress = new Option<string[]>("--address") { Description = "An address the host is reached on (repeat for several)", Required = true, AllowMultipleArgumentsPerToken = true };
        var hostOut = new Option<DirectoryInfo>("--out") { Description = "The host's TLS directory (made, mode 0700): pass it as the silo's --tls-dir", Required = true };
        var hostDays = new Option<int>("--days") { Description = "Validity in days", DefaultValueFactory = _ => 825 };
        var host = new Command("host", "Make a host's certificate and TLS directory, signed by the authority") { hostCa, hostName, hostAddress, hostOut, hostDays };
        host.SetAction(parse =>
        {
            var name = parse.GetValue(hostName)!;
            if (Policies.Model.GuestName.Problem(name) is { } p) throw new UsageException($"--name: {p}");
            var addresses = new List<IPAddress>();
            foreach (var a in parse.GetValue(hostAddress)!)
                addresses.Add(IPAddress.TryParse(a, out var ip) ? ip : throw new UsageException($"--address: '{a}' is not an IP address"));
            var authority = LoadAuthority(parse.GetValue(hostCa)!.FullName);
            var dir = PrivateDirectory(parse.GetValue(hostOut)!.FullName);
            Refuse(dir, TlsDirectory.ServerCertificateFile, TlsDirectory.ServerKeyFile, TlsDirectory.ClientCertificateFile, TlsDirectory.ClientKeyFile);
            using var cert = authority.Issue(name, addresses, DateTimeOffset.UtcNow, Days(parse.GetValue(hostDays)));
            var certPem = cert.ExportCertificatePem();
            var keyPem = cert.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem();
            Write(Path.Combine(dir, TlsDirectory.AuthorityFile), authority.Certificate.ExportCertificatePem(), secret: false, replace: true);
            Write(Path.Combine(dir, TlsDirectory.ServerCertificateFile), certPem, secret: false);
            Write(Path.Combine(dir, TlsDirectory.ServerKeyFile), keyPem, secret: true);
            Write(Path.Combine(dir, TlsDirectory.ClientCertificateFile), certPem, secret: false);
            Write(Path.Combine(dir, TlsDirectory.ClientKeyFile), keyPem, secret: true);
            Console.WriteLine($"TLS directory for {name} ({string.Join(", ", addresses)}) in {dir}, valid until {cert.NotAfter:yyyy-MM-dd}: start its silo with --tls-dir {dir}");
            return 0;
        });

        cmd.Subcommands.Add(ca);
        cmd.Subcommands.Add(host);
        return cmd;
    }

    private static int Days(int days) => days is >= 1 and <= 36_500 ? days : throw new UsageException("--days must be 1..36500");

    private static CertificateAuthority LoadAuthority(string dir)
    {
        var cert = Path.Combine(dir, TlsDirectory.AuthorityFile);
        var key = Path.Combine(dir, AuthorityKeyFile);
        if (!File.Exists(cert) || !File.Exists(key)) throw new UsageException($"--ca: {dir} has no {TlsDirectory.AuthorityFile} and {AuthorityKeyFile} (make them with 'kvmcluster certs ca')");
        try { return new CertificateAuthority(X509Certificate2.CreateFromPemFile(cert, key)); }
        catch (CryptographicException e) { throw new UsageException($"--ca: {cert} with {key}: {e.Message}"); }
    }

    private static string PrivateDirectory(string dir)
    {
        Directory.CreateDirectory(dir);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return dir;
    }

    private static void Refuse(string dir, params string[] files)
    {
        foreach (var f in files)
            if (File.Exists(Path.Combine(dir, f))) throw new UsageException($"--out: {Path.Combine(dir, f)} exists; remove it first to replace it");
    }

    /// <summary>Keys are created 0600 (never briefly readable by others).</summary>
    private static void Write(string path, string text, bool secret, bool replace = false)
    {
        var options = new FileStreamOptions { Mode = replace ? FileMode.Create : FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = secret ? UnixFileMode.UserRead | UnixFileMode.UserWrite : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        using var w = new StreamWriter(path, System.Text.Encoding.ASCII, options);
        w.Write(text);
    }
}
