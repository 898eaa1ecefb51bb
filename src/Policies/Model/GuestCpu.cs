using System.Collections.Immutable;
using System.ComponentModel;

namespace KvmCluster.Policies.Model;

public enum CpuMode
{
    /// <summary>-cpu host: the guest sees the host's processor; it can only move to an identical one.</summary>
    HostPassthrough,
    /// <summary>-cpu MODEL,+flag,-flag: a named QEMU model with explicit feature changes.</summary>
    Custom,
}

/// <summary>A feature added (+vmx) or removed (-hle) on top of a named model.</summary>
public readonly record struct CpuFlagChange(
    [property: Description("A /proc/cpuinfo flag name (vmx, avx2, hle).")] string Flag,
    [property: Description("true: added (+flag); false: removed (-flag).")] bool Enabled)
{
    public override string ToString() => (Enabled ? "+" : "-") + Flag;

    public static CpuFlagChange Parse(string text)
    {
        if (text.Length < 2 || (text[0] != '+' && text[0] != '-'))
            throw new FormatException($"CPU flag '{text}' must start with '+' or '-' (e.g. +vmx, -hle)");
        var flag = text[1..];
        foreach (var c in flag)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
                throw new FormatException($"CPU flag '{text}' has an invalid character '{c}'");
        return new CpuFlagChange(flag, text[0] == '+');
    }
}

public sealed record GuestCpu(
    [property: Description("host-passthrough (-cpu host) or custom (a named model).")] CpuMode Mode,
    [property: Description("The QEMU CPU model (Haswell, EPYC-Rome, qemu64); null for host-passthrough.")] string? Model,
    [property: Description("Features added or removed on top of the model (+vmx, -hle).")] ImmutableArray<CpuFlagChange> Flags)
{
    public static GuestCpu Host { get; } = new(CpuMode.HostPassthrough, null, []);
    public static GuestCpu Named(string model, params CpuFlagChange[] flags) => new(CpuMode.Custom, model, [.. flags]);

    public IEnumerable<string> RequiredFlags => Flags.Where(f => f.Enabled).Select(f => f.Flag);

    /// <summary>+vmx or +svm: the guest runs its own hypervisor.</summary>
    public bool WantsNested => Flags.Any(f => f.Enabled && f.Flag is "vmx" or "svm");

    public override string ToString() => Mode == CpuMode.HostPassthrough ? "host" : string.Join(",", new[] { Model! }.Concat(Flags.Select(f => f.ToString())));
}
