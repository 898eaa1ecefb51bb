using System.Text.RegularExpressions;

namespace KvmCluster.Policies.Model;

/// <summary>
/// What a host label may look like (Kubernetes' label syntax, without the prefix length rules): keys of letters,
/// digits, '.', '_', '/' and '-', values of letters, digits, '.', '_' and '-', each starting with a letter or digit.
/// Labels are matched by affinity rules and filters (<c>zone=a</c>), so a typo must be refused, not stored.
/// </summary>
public static partial class HostLabel
{
    public const string KeyPattern = "^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$";
    public const string ValuePattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$";

    public static string? KeyProblem(string key) => Key().IsMatch(key) ? null : $"label key '{key}' must match {KeyPattern}";

    public static string? ValueProblem(string key, string value) => Value().IsMatch(value) ? null : $"label {key}: value '{value}' must match {ValuePattern}";

    [GeneratedRegex(KeyPattern)]
    private static partial Regex Key();

    [GeneratedRegex(ValuePattern)]
    private static partial Regex Value();
}
