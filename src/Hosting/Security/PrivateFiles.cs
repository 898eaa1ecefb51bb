using KvmCluster.Hosting;
using Mono.Unix;

namespace KvmCluster.Hosting.Security;

/// <summary>
/// The state directory and the secrets in it belong to the silo's user alone. The default directory lies under /tmp,
/// where anyone may create it first and plant a token; so an existing directory must be owned by this user with no
/// group or other bits, and a secret file must be readable by its owner only — otherwise the silo refuses to start.
/// </summary>
public static class PrivateFiles
{
    private const UnixFileMode NotOwner = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Creates <paramref name="path"/> mode 0700, or checks an existing one is this user's and private.</summary>
    public static void EnsureDirectory(string path, string option)
    {
        if (OperatingSystem.IsWindows()) { Directory.CreateDirectory(path); return; }
        if (!Directory.Exists(path))
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return;
        }
        var info = new UnixDirectoryInfo(path);
        var me = Mono.Unix.Native.Syscall.geteuid();
        if (info.OwnerUserId != me)
            throw new UsageException($"{option}: {path} belongs to uid {info.OwnerUserId}, not to this user (uid {me}); someone else may have made it to plant files: remove it or choose another directory");
        if ((File.GetUnixFileMode(path) & NotOwner) != 0)
            throw new UsageException($"{option}: {path} is open to group or others (mode {Octal(File.GetUnixFileMode(path))}); chmod 700 it");
    }

    /// <summary>Checks a secret this silo reads (a token, a key) is this user's and not readable by anyone else.</summary>
    public static void CheckSecret(string file, string what)
    {
        if (OperatingSystem.IsWindows()) return;
        var info = new UnixFileInfo(file);
        var me = Mono.Unix.Native.Syscall.geteuid();
        if (info.OwnerUserId != me) throw new UsageException($"{what}: {file} belongs to uid {info.OwnerUserId}, not to this user (uid {me}); remove it");
        if ((File.GetUnixFileMode(file) & NotOwner) != 0)
            throw new UsageException($"{what}: {file} is readable or writable by group or others (mode {Octal(File.GetUnixFileMode(file))}); chmod 600 it or remove it");
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode & 0x1ff, 8).PadLeft(4, '0');
}
