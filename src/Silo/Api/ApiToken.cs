using System.Security.Cryptography;
using System.Text;
using KvmCluster.Hosting;

namespace KvmCluster.Silo.Api;

/// <summary>
/// The bearer token mutating calls need. Without a configured token the silo makes a random one and writes it to
/// {state}/api-token (mode 0600), so nothing is ever open by default.
/// </summary>
public sealed class ApiToken
{
    public string Value { get; }
    public string? File { get; }

    public ApiToken(SiloSettings settings)
    {
        if (!string.IsNullOrWhiteSpace(settings.ApiToken)) { Value = settings.ApiToken; return; }
        KvmCluster.Hosting.Security.PrivateFiles.EnsureDirectory(settings.StateDirectory, "--state-dir");
        File = Path.Combine(settings.StateDirectory, "api-token");
        if (System.IO.File.Exists(File))
        {
            KvmCluster.Hosting.Security.PrivateFiles.CheckSecret(File, "the API token");
            Value = System.IO.File.ReadAllText(File).Trim();
            if (Value.Length > 0) return;
        }
        Value = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // never briefly readable by others
        using var w = new StreamWriter(File, System.Text.Encoding.ASCII, options);
        w.Write(Value);
    }

    /// <summary>Whether an Authorization header carries this token as a bearer token.</summary>
    public bool Accepts(string? authorization)
    {
        const string prefix = "Bearer ";
        if (authorization is null || !authorization.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) return false;
        return Matches(authorization[prefix.Length..].Trim());
    }

    /// <summary>Constant-time comparison with the token.</summary>
    public bool Matches(string? given) =>
        given is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(Value));
}
