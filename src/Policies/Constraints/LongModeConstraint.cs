namespace KvmCluster.Policies.Constraints;

/// <summary>A 64-bit guest needs a host with long mode (the lm flag).</summary>
public sealed class LongModeConstraint : IStaticConstraint
{
    public static readonly LongModeConstraint Instance = new();
    public string Id => "64-bit";

    public string? Check(in StaticInput x) =>
        x.Guest.Is64Bit && !x.Host.Cpu.HasFlag("lm")
            ? $"64-bit guest needs long mode, {StaticInput.HostToken} lacks the lm flag"
            : null;
}
