using System.Text.Json;
using KvmCluster.Grains.Contracts;
using KvmCluster.Hosting.Processes;
using KvmCluster.Policies.Model;

namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>
/// A guest's disk images on this host. Shared disks are the operator's image on shared storage. Local and overlay
/// disks are this host's own qcow2 files in the state directory, made with qemu-img: a local disk empty at its size,
/// an overlay on the backing image every host keeps at the same path (like Nova's instance disk on its _base image).
/// They outlive a stopped guest (its data) and go when the guest migrates away (the destination has them then).
/// </summary>
public sealed class QemuDisks(QemuOptions options, string directory)
{
    private static readonly string[] ImageSuffixes = [".qcow2", ".img", ".raw"];
    private static readonly TimeSpan ImgTimeout = TimeSpan.FromSeconds(60);

    /// <summary>This host's image of local or overlay disk <paramref name="index"/> (the name the command line uses).</summary>
    private string PathOf(Guest guest, int index) => GuestFiles.For(directory, guest.Name).Disk(index);

    /// <summary>Backing images present here: the image files in the configured image directories.</summary>
    public IEnumerable<string> BackingImages() =>
        options.ImageDirectories.Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d))
            .Where(f => ImageSuffixes.Any(s => f.EndsWith(s, StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal);

    /// <summary>
    /// Makes the guest's local and overlay images. A launch keeps the ones already there (the guest's data); a
    /// migration's destination makes them afresh (what was there is a stale copy the source is about to overwrite).
    /// </summary>
    public async Task CreateAsync(Guest guest, bool fresh, CancellationToken cancellationToken)
    {
        for (var i = 0; i < guest.Disks.Length; i++)
        {
            var disk = guest.Disks[i];
            if (!disk.IsCopiedOnMigration) continue;
            var file = PathOf(guest, i);
            if (!fresh && File.Exists(file)) continue;
            var args = new List<string> { "create", "-q", "-f", "qcow2" };
            if (disk.Kind == DiskKind.Overlay)
            {
                var backing = disk.Image!;
                if (!File.Exists(backing)) throw ClusterException.Invalid($"disks[{i}]: backing image {backing} is not on this host", $"disks[{i}].image");
                args.AddRange(["-b", backing, "-F", await FormatOf(backing, cancellationToken)]);
            }
            args.Add(file);
            if (disk.Kind == DiskKind.Local || disk.SizeGiB > 0) args.Add($"{disk.SizeGiB}G");
            await Img(args, cancellationToken);
        }
    }

    /// <summary>Removes the guest's local and overlay images (after it moved away, or an arrival was abandoned).</summary>
    public void Delete(Guest guest)
    {
        for (var i = 0; i < guest.Disks.Length; i++)
            if (guest.Disks[i].IsCopiedOnMigration) File.Delete(PathOf(guest, i));
    }

    private async Task<string> FormatOf(string image, CancellationToken cancellationToken)
    {
        // -U: the image is open read-only by running guests; reading its header needs no lock.
        var info = await Img(["info", "-U", "--output=json", image], cancellationToken);
        using var json = JsonDocument.Parse(info);
        return json.RootElement.GetProperty("format").GetString() ?? "raw";
    }

    private async Task<string> Img(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        ProcessResult result;
        try { result = await ProcessRunner.RunAsync(options.ImgBinary, args, ImgTimeout, cancellationToken); }
        catch (System.ComponentModel.Win32Exception e) { throw ClusterException.Unavailable($"{options.ImgBinary} cannot run here ({e.Message}): install qemu-utils"); }
        if (result.ExitCode != 0) throw ClusterException.Conflict($"qemu-img {args[0]} failed: {result.Error}");
        return result.Output;
    }
}
