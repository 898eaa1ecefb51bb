using System.ComponentModel;
using System.Text.RegularExpressions;

namespace KvmCluster.Policies.Model;

/// <summary>
/// How a guest boots: straight from a kernel (QEMU's -kernel/-initrd/-append, as distribution kernels with their
/// initramfs and appliance guests do) or through the firmware (SeaBIOS) from its devices in <see cref="Order"/>. Every
/// value reaches QEMU's command line, so each is checked: absolute paths without control characters, a command line of
/// plain words, an order of known devices.
/// </summary>
public sealed partial record GuestBoot(
    [property: Description("Absolute path of a kernel image to boot straight into (QEMU's -kernel); null: boot through the firmware from `order`.")] string? Kernel = null,
    [property: Description("Kernel command line (QEMU's -append): plain words.")] string? Append = null)
{
    [Description("Absolute path of the initramfs the kernel starts with (QEMU's -initrd); distribution kernels need one for their drivers.")]
    public string? Initrd { get; init; }

    [Description("Firmware boot order without a kernel: c the first disk, d the CD-ROM, n the network, each at most once (QEMU's -boot order); default c.")]
    public string? Order { get; init; }

    [GeneratedRegex("^[A-Za-z0-9=._,:/ +-]{0,512}$", RegexOptions.CultureInvariant)]
    private static partial Regex CommandLine();

    [GeneratedRegex("^(?!.*(.).*\\1)[cdn]{1,3}$", RegexOptions.CultureInvariant)]
    private static partial Regex BootOrder();

    public IEnumerable<(string Field, string Message)> Problems()
    {
        if (Kernel is not null && GuestPath.Problem(Kernel) is { } k) yield return ("boot.kernel", k);
        if (Initrd is not null && GuestPath.Problem(Initrd) is { } i) yield return ("boot.initrd", i);
        if (Append is not null && !CommandLine().IsMatch(Append))
            yield return ("boot.append", "the kernel command line may hold letters, digits, spaces and = . _ , : / + - (at most 512)");
        if (Kernel is null && Initrd is not null) yield return ("boot.initrd", "an initramfs needs a kernel (boot.kernel)");
        if (Kernel is null && Append is not null) yield return ("boot.append", "a kernel command line needs a kernel (boot.kernel)");
        if (Order is not null && !BootOrder().IsMatch(Order))
            yield return ("boot.order", $"'{Order}' is not a boot order: c (disk), d (CD-ROM), n (network), each at most once, e.g. dc");
        if (Order is not null && Kernel is not null) yield return ("boot.order", "a guest booted from a kernel (boot.kernel) has no firmware boot order");
    }
}

/// <summary>Files a guest spec names (kernel, initramfs, ISO, images): they reach QEMU's argv, so only plain absolute paths.</summary>
public static partial class GuestPath
{
    [GeneratedRegex("^/[A-Za-z0-9._/+-]{1,4095}$", RegexOptions.CultureInvariant)]
    private static partial Regex Plain();

    public static string? Problem(string path) =>
        Plain().IsMatch(path) && !path.Contains("/../", StringComparison.Ordinal) && !path.EndsWith("/..", StringComparison.Ordinal)
            ? null
            : $"'{path}' must be an absolute path of letters, digits and . _ / + -";
}
