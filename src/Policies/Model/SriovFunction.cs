namespace KvmCluster.Policies.Model;

/// <summary>An SR-IOV physical function and how many of its virtual functions are still free.</summary>
public sealed record SriovFunction(string PhysicalFunction, string Network, int TotalVfs, int FreeVfs);
