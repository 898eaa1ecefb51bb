namespace KvmCluster.Silo.Tests.Security;

/// <summary>
/// Certificates made at test time: with openssl (an independent implementation, as an operator following the README's
/// openssl steps would make them) or with `kvmcluster certs`. Directories are laid out as the silo's --tls-dir.
/// </summary>
public static class TestPki
{
    /// <summary>An authority in <paramref name="dir"/> (ca-cert.pem, ca-key.pem), made by openssl.</summary>
    public static void OpensslAuthority(string dir, string name)
    {
        Directory.CreateDirectory(dir);
        Openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca-key.pem", "-out", "ca-cert.pem", "-days", "30", "-subj", $"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    }

    /// <summary>A host's TLS directory signed by the openssl authority in <paramref name="caDir"/>.</summary>
    public static string OpensslHost(string caDir, string host, string address, string outDir)
    {
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "ext.cnf"),
            $"basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:{host},IP:{address}\n");
        Openssl(outDir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "server-key.pem", "-out", "server.csr", "-subj", $"/CN={host}");
        Openssl(outDir, "x509", "-req", "-in", "server.csr", "-CA", Path.Combine(caDir, "ca-cert.pem"), "-CAkey", Path.Combine(caDir, "ca-key.pem"),
            "-set_serial", Random.Shared.NextInt64(1, long.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-out", "server-cert.pem", "-days", "30", "-extfile", "ext.cnf");
        File.Copy(Path.Combine(caDir, "ca-cert.pem"), Path.Combine(outDir, "ca-cert.pem"), overwrite: true);
        File.Copy(Path.Combine(outDir, "server-cert.pem"), Path.Combine(outDir, "client-cert.pem"), overwrite: true);
        File.Copy(Path.Combine(outDir, "server-key.pem"), Path.Combine(outDir, "client-key.pem"), overwrite: true);
        foreach (var key in new[] { "server-key.pem", "client-key.pem" })
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path.Combine(outDir, key), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return outDir;
    }

    /// <summary>`kvmcluster certs ca` then `certs host` for each (host, address): the product's own path.</summary>
    public static async Task<string> KvmclusterAuthority(string dir)
    {
        await Kvmcluster("certs", "ca", "--out", dir);
        return dir;
    }

    public static async Task<string> KvmclusterHost(string caDir, string host, string address, string outDir)
    {
        await Kvmcluster("certs", "host", "--ca", caDir, "--name", host, "--address", address, "--out", outDir);
        return outDir;
    }

    private static async Task Kvmcluster(params string[] args)
    {
        using var p = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, .. args]);
        var code = await p.WaitAsync(TimeSpan.FromSeconds(60));
        if (code != 0) throw new InvalidOperationException($"kvmcluster {string.Join(' ', args)} exited {code}: {p.Output}");
    }

    private static void Openssl(string dir, params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo("openssl") { WorkingDirectory = dir, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("openssl did not start (apt-get install openssl)");
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"openssl {string.Join(' ', args)} exited {p.ExitCode}: {err.Result}");
    }
}
