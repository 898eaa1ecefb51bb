namespace KvmCluster.Grains.Contracts;

/// <summary>Console output from an offset on: the bytes, and the offset to ask from next.</summary>
[GenerateSerializer, Immutable, Alias("kvm.ConsoleOutput")]
public sealed record ConsoleOutput([property: Id(0)] byte[] Data, [property: Id(1)] long Next);
