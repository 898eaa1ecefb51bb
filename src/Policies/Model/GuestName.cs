using System.Text.RegularExpressions;

namespace KvmCluster.Policies.Model;

/// <summary>
/// Guest names reach QEMU command lines (-name), file paths and Redis keys, so only a conservative
/// character set is accepted: a letter or digit, then up to 63 letters, digits, '.', '_' or '-'.
/// </summary>
public static partial class GuestName
{
    public const string Pattern = "[A-Za-z0-9][A-Za-z0-9._-]{0,63}";

    [GeneratedRegex("^" + Pattern + "$", RegexOptions.CultureInvariant)]
    private static partial Regex Regex();

    public static bool IsValid(string? name) => name is not null && Regex().IsMatch(name);

    /// <summary>Returns a message explaining why <paramref name="name"/> is invalid, or null when it is valid.</summary>
    public static string? Problem(string? name)
    {
        if (string.IsNullOrEmpty(name)) return "a guest name is required";
        if (name.Length > 64) return $"guest name is {name.Length} characters long; at most 64 are allowed";
        if (!IsValid(name)) return $"guest name '{name}' must match {Pattern} (letters, digits, '.', '_', '-'; starting with a letter or digit)";
        return null;
    }

    public static string Validate(string? name) =>
        Problem(name) is { } p ? throw new ArgumentException(p, nameof(name)) : name!;
}
