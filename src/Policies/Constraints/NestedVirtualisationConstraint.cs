namespace KvmCluster.Policies.Constraints;

/// <summary>
/// A guest asking for +vmx/+svm runs its own hypervisor: the host needs hardware virtualisation and the
/// kvm_intel/kvm_amd nested parameter enabled.
/// </summary>
public sealed class NestedVirtualisationConstraint : IStaticConstraint
{
    public static readonly NestedVirtualisationConstraint Instance = new();
    public string Id => "nested";

    public string? Check(in StaticInput x)
    {
        if (!x.Guest.Cpu.WantsNested) return null;
        var cpu = x.Host.Cpu;
        if (!cpu.HasHardwareVirtualisation) return $"guest wants nested virtualisation but {StaticInput.HostToken} has neither vmx nor svm";
        if (!cpu.NestedEnabled) return $"guest wants nested virtualisation but nested is disabled on {StaticInput.HostToken} (kvm module parameter nested=0)";
        return null;
    }
}
