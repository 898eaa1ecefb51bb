namespace KvmCluster.Policies.Constraints;

/// <summary>
/// A guest that requires NX (no-execute) runs only on hosts exposing nx; a running guest only migrates
/// between hosts with the same NX setting, because the bit cannot change under a live guest.
/// </summary>
public sealed class NxConstraint : IStaticConstraint
{
    public static readonly NxConstraint Instance = new();
    public string Id => "nx";

    public string? Check(in StaticInput x)
    {
        var hostNx = x.Host.Cpu.HasFlag("nx");
        if (x.Guest.RequiresNx && !hostNx)
            return $"guest requires NX but {StaticInput.HostToken} does not expose the nx flag (disabled in BIOS?)";
        if (x.Source is { } src && src.Cpu.HasFlag("nx") != hostNx)
            return $"NX differs: source {StaticInput.SourceToken} has NX {(hostNx ? "off" : "on")}, {StaticInput.HostToken} has it {(hostNx ? "on" : "off")}";
        return null;
    }
}
