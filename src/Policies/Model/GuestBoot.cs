using System.ComponentModel;
using System.Text.RegularExpressions;

namespace KvmCluster.Policies.Model;

/// <summary>
/// A guest booted straight from a kernel (QEMU's -kernel/-append), as test and appliance guests are. Both values
/// reach QEMU's command line, so they are checked: an absolute path without control characters, and a command line
/// of plain words.
/// </summary>
public sealed partial record GuestBoot(
    [property: Description("Absolute path of the kernel image (QEMU's -kernel).")] string Kernel,
    [property: Description("Kernel command line (QEMU's -append): plain words.")] string? Append = null)
{
    [GeneratedRegex("^/[A-Za-z0-9._/+-]{1,4095}$", RegexOptions.CultureInvariant)]
    private static partial Regex KernelPath();

    [GeneratedRegex("^[A-Za-z0-9=._,:/ +-]{0,512}$", RegexOptions.CultureInvariant)]
    private static partial Regex CommandLine();

    public IEnumerable<(string Field, string Message)> Problems()
    {
        if (!KernelPath().IsMatch(Kernel) || Kernel.Contains("/../", StringComparison.Ordinal))
            yield return ("boot.kernel", $"'{Kernel}' must be an absolute path of letters, digits and . _ / + -");
        if (Append is not null && !CommandLine().IsMatch(Append))
            yield return ("boot.append", "the kernel command line may hold letters, digits, spaces and = . _ , : / + - (at most 512)");
    }
}
