namespace KvmCluster.Grains;

public static class StorageNames
{
    /// <summary>The grain storage every silo registers (memory when embedded, Redis when clustered).</summary>
    public const string Store = "store";
}
