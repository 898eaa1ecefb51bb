using KvmCluster.Hosting.Drivers;
using KvmCluster.Policies.Model;
using Host = KvmCluster.Policies.Model.Host;

namespace KvmCluster.Bench;

/// <summary>
/// The benchmark's simulated hosts: all alike (32 threads, 256 GiB), guests each busy at their own steady fraction
/// (a hash of the name and the seed) — so load is uneven and the balancer has work. The benchmark samples every host 12
/// times before its planning rounds, so each guest carries 12 samples of history, as host grains keep them.
/// </summary>
public sealed class BenchWorld(ConfiguredWorld hosts, int seed) : ISimulatedWorld
{
    public Host Facts(string host) => hosts.Facts(host);

    public UsageSample Sample(string host, Guest guest)
    {
        var load = 0.05 + 0.9 * (Hash(guest.Name) % 1000) / 1000.0;
        return new UsageSample(guest.VCpus * 2400 * load, guest.MemoryMiB * 0.8, 8.0);
    }

    /// <summary>FNV-1a: stable across runs and processes (string.GetHashCode is randomised).</summary>
    private uint Hash(string s)
    {
        var h = 2166136261u ^ (uint)seed;
        foreach (var c in s) h = (h ^ c) * 16777619u;
        return h;
    }
}
