namespace KvmCluster.Policies.Randomness;

/// <summary>
/// Seeds that are the same in every process. <c>HashCode.Combine</c> is randomised per process by .NET, so a seed
/// built from it made different plans on different silos and after a restart. This is SplitMix64's finaliser
/// (Steele, Lea, Flood 2014; the generator Java's SplittableRandom uses) applied to each part in turn: a fixed,
/// documented function of its inputs. A seeded <see cref="Random"/> is itself stable across processes and .NET
/// versions (it keeps the seeded legacy algorithm).
/// </summary>
public static class StableSeed
{
    public static int Mix(params ReadOnlySpan<long> parts)
    {
        var h = 0x9E3779B97F4A7C15UL;
        foreach (var p in parts) h = Finalise(h ^ unchecked((ulong)p));
        return unchecked((int)(h ^ (h >> 32)));
    }

    private static ulong Finalise(ulong z)
    {
        z = unchecked(z + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }
}
