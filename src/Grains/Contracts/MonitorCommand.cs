namespace KvmCluster.Grains.Contracts;

/// <summary>What an HMP command passed through to QEMU's monitor may look like: one line of printable text.</summary>
public static class MonitorCommand
{
    public const int MaxLength = 512;

    public static string? Problem(string? command) =>
        string.IsNullOrWhiteSpace(command) ? "a monitor command is required, e.g. \"info block\""
        : command.Length > MaxLength ? $"at most {MaxLength} characters"
        : command.Any(char.IsControl) ? "one line of printable characters (no control characters)"
        : null;
}
