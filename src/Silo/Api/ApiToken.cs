using System.Security.Cryptography;
using System.Text;
using KvmCluster.Silo.Hosting;

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
        Directory.CreateDirectory(settings.StateDirectory);
        File = Path.Combine(settings.StateDirectory, "api-token");
        if (System.IO.File.Exists(File)) { Value = System.IO.File.ReadAllText(File).Trim(); if (Value.Length > 0) return; }
        Value = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        System.IO.File.WriteAllText(File, Value);
        if (!OperatingSystem.IsWindows()) System.IO.File.SetUnixFileMode(File, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    public bool Accepts(string? authorization)
    {
        const string prefix = "Bearer ";
        if (authorization is null || !authorization.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) return false;
        var given = Encoding.UTF8.GetBytes(authorization[prefix.Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(Value));
    }
}
