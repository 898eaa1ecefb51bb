using System.Text.RegularExpressions;
using KvmCluster.Policies.Model;

namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>
/// Where one guest's files live in the silo's state directory. An arriving guest uses the same names (a guest never
/// migrates to the host it runs on); the serial log is appended to, so it keeps the guest's history on this host.
/// </summary>
public sealed record GuestFiles(string Qmp, string Serial, string Pid)
{
    /// <summary>The guest's spec as this host runs it, so a restarted silo can adopt the running QEMU.</summary>
    public string Spec => Path.ChangeExtension(Pid, ".spec.json");

    /// <summary>Which migration this guest's QEMU takes part in, and on which side, while it does (for adoption).</summary>
    public string Migration => Path.ChangeExtension(Pid, ".migration.json");

    /// <summary>The serial console's socket: one client at a time talks to the guest's ttyS0; the log keeps it all.</summary>
    public string Console => Path.ChangeExtension(Pid, ".console");

    /// <summary>This host's image of a local or overlay disk.</summary>
    public string Disk(int index) => Path.ChangeExtension(Pid, $".disk{index}.qcow2");

    public static GuestFiles For(string directory, string guest) =>
        new(Path.Combine(directory, guest + ".qmp"), Path.Combine(directory, guest + ".serial"), Path.Combine(directory, guest + ".pid"));
}

/// <summary>
/// A guest spec as QEMU's argv — an array, never a shell string. Every value that reaches it is checked here or by
/// the spec (names, CPU model and flags, paths, the kernel command line), and values inside QEMU's comma-separated
/// options have their commas doubled, as QEMU's option parser expects.
/// </summary>
public static partial class QemuCommandLine
{
    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex CpuModel();

    [GeneratedRegex("^[a-z0-9_.-]{1,32}$", RegexOptions.CultureInvariant)]
    private static partial Regex CpuFlag();

    /// <param name="accel">kvm or tcg.</param>
    /// <param name="hugepageMount">The hugetlbfs mount for the guest's page size (hugepage guests only).</param>
    /// <param name="host">This host's name: the guest's tap devices are named from it (<see cref="QemuNetworks.TapName"/>).</param>
    public static IReadOnlyList<string> For(Guest guest, QemuOptions options, string accel, GuestFiles files, string? hugepageMount, bool incoming, string host = "localhost")
    {
        GuestName.Validate(guest.Name);
        if (guest.Problems().FirstOrDefault() is { Field: { } field } problem && field.Length > 0) throw new ArgumentException($"{field}: {problem.Message}");
        var args = new List<string>
        {
            "-name", $"guest={Escape(guest.Name)},debug-threads=on",
            "-uuid", (guest.Uuid == Guid.Empty ? DeterministicUuid(guest.Name) : guest.Uuid).ToString(),
            "-accel", accel is "kvm" or "tcg" ? accel : throw new ArgumentException($"accelerator '{accel}' is not kvm or tcg"),
            "-cpu", Cpu(guest.Cpu),
            "-smp", guest.VCpus.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-m", $"{guest.MemoryMiB}M",
            "-nodefaults", "-no-user-config", "-display", "none",
            // The serial console is a socket an operator's console attaches to, and everything the guest writes to it
            // goes to the serial log whether anyone is attached or not.
            "-chardev", $"socket,id=serial0,path={Escape(files.Console)},server=on,wait=off,logfile={Escape(files.Serial)},logappend=on",
            "-serial", "chardev:serial0",
            "-qmp", $"unix:{Escape(files.Qmp)},server=on,wait=off",
            "-pidfile", files.Pid,
        };
        var machine = Escape(guest.Machine ?? options.Machine);
        if (guest.HugepageSizeKiB is { } size)
        {
            if (hugepageMount is null) throw new ArgumentException($"no hugetlbfs mount for {HugepagePool.DescribeSize(size)} pages");
            args.AddRange(["-object", $"memory-backend-file,id=ram0,size={guest.MemoryMiB}M,mem-path={Escape(hugepageMount)},share=on,prealloc=on"]);
            machine += ",memory-backend=ram0";
        }
        args.InsertRange(0, ["-machine", machine]);
        // The balloon and a virtio-serial bus are always there: memory can be given back and ports hot-plugged
        // without a reboot, and both sides of a migration have the same devices.
        args.AddRange(["-device", "virtio-balloon-pci,id=balloon0", "-device", "virtio-serial-pci,id=vser0"]);
        if (HasPcieSlots(options, guest.Machine))
        {
            // Native PCIe hot-plug (QEMU 7.2's q35 default is ACPI hot-plug, which needs the guest's ACPI): the
            // guest answers the slot's attention button itself.
            args.AddRange(["-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"]);
            for (var k = 0; k < options.HotplugSlots; k++) args.AddRange(["-device", $"pcie-root-port,id=hp{k},chassis={k + 1},bus=pcie.0"]);
        }
        // Hot-plugged passed-through devices start cold-plugged from hostDevices below, like the spec's own.
        foreach (var d in guest.Devices.Where(d => d.Driver != "vfio-pci")) args.AddRange(Device(d, host, guest.Name));
        // Without a kernel the firmware boots the devices in the spec's order: each gets its bootindex (c the first
        // disk, d the CD-ROM, n the first NIC), which SeaBIOS reads from fw_cfg.
        var order = guest.Boot?.Kernel is null ? guest.Boot?.Order ?? "c" : "";
        string BootIndex(char device, bool first) => first && order.IndexOf(device, StringComparison.Ordinal) is >= 0 and var k ? $",bootindex={k + 1}" : "";
        for (var i = 0; i < guest.Nics; i++)
            args.AddRange(["-netdev", $"user,id=net{i}", "-device", $"virtio-net-pci,netdev=net{i},id=nic{i}{BootIndex('n', i == 0)}"]);
        // NICs on named networks: the tap the silo made on the network's bridge, the MAC the spec gives or derives.
        for (var i = 0; i < guest.Networks.Length; i++)
        {
            var nic = guest.Networks[i];
            var model = nic.Model switch { "virtio" => "virtio-net-pci", "e1000" => "e1000", _ => throw new ArgumentException($"networks[{i}].model: '{nic.Model}'") };
            args.AddRange(["-netdev", $"tap,id=lan{i},ifname={QemuNetworks.TapName(host, guest.Name, i)},script=no,downscript=no",
                "-device", $"{model},netdev=lan{i},id=lan{i}nic,mac={nic.MacOf(guest.Name, i)}{BootIndex('n', i == 0 && guest.Nics == 0)}"]);
        }
        for (var i = 0; i < guest.Disks.Length; i++)
        {
            var d = guest.Disks[i];
            var file = d.IsCopiedOnMigration ? files.Disk(i)
                : d.Image is { } image ? CheckedPath(image, $"disks[{i}].image")
                : throw new ArgumentException($"disks[{i}]: the QEMU driver needs the image file of a shared disk (image)");
            // A node name, so a migration's destination can export the disk over NBD; discard=unmap, so copying a
            // disk's unallocated space costs nothing against the migration's bandwidth cap.
            args.AddRange(["-drive", $"file={Escape(file)},if=none,id=disk{i},node-name=nd-disk{i},cache=none,discard=unmap,format=qcow2",
                "-device", $"virtio-blk-pci,drive=disk{i},id=vd{i}{BootIndex('c', i == 0)}"]);
        }
        // Passed-through devices and VFs the host assigned: VFIO, by address.
        for (var i = 0; i < guest.HostDevices.Length; i++)
        {
            var address = guest.HostDevices[i];
            if (!PciIds.IsAddress(address)) throw new ArgumentException($"hostDevices[{i}]: '{address}' is not a PCI address");
            args.AddRange(["-device", $"vfio-pci,host={address.ToLowerInvariant()},id=hostdev{i}"]);
        }
        if (guest.Cdrom is { } iso)
            args.AddRange(["-drive", $"file={Escape(CheckedPath(iso, "cdrom"))},if=none,id=cd0,media=cdrom,readonly=on,format=raw", "-device", $"ide-cd,drive=cd0,id=cdrom0{BootIndex('d', true)}"]);
        if (guest.Boot is { Kernel: { } kernel } boot)
        {
            args.AddRange(["-kernel", CheckedPath(kernel, "boot.kernel")]);
            if (boot.Initrd is { } initrd) args.AddRange(["-initrd", CheckedPath(initrd, "boot.initrd")]);
            if (!string.IsNullOrEmpty(boot.Append)) args.AddRange(["-append", boot.Append]);
        }
        // A kernel panic reaches QEMU through pvpanic and ends the guest as a shutdown whose reason says so
        // (GUEST_PANICKED, SHUTDOWN guest-panic): the host records it crashed, not lost (libvirt's on_crash=destroy).
        args.AddRange(["-device", "pvpanic", "-action", "panic=shutdown,shutdown=poweroff"]);
        // An incoming copy stays paused when it has everything (-S): only the migration's decision resumes it, so the
        // guest never runs on two hosts and a copy that may be the only one is never killed (docs/migration-protocol.md).
        // A destination receiving disks also needs it: its NBD export holds the images until the copy is done.
        if (incoming) args.AddRange(["-incoming", "defer", "-S"]);
        else if (guest.Paused) args.Add("-S"); // virsh start --paused
        return args;
    }

    /// <summary>A hot-plugged device as cold-plug arguments (a migration's destination starts with it).</summary>
    public static IEnumerable<string> Device(GuestDevice d, string host = "localhost", string guest = "")
    {
        GuestName.Validate(d.Id);
        return d.Driver switch
        {
            "virtserialport" => ["-chardev", $"null,id=cd-{d.Id}", "-device", $"virtserialport,id={d.Id},chardev=cd-{d.Id},bus=vser0.0"],
            "virtio-net-pci" when d.Slot is >= 0 and < 256 && d.Network is not null =>
                ["-netdev", $"tap,id=nd-{d.Id},ifname={QemuNetworks.TapName(host, guest, d.Id)},script=no,downscript=no",
                 "-device", $"virtio-net-pci,id={d.Id},netdev=nd-{d.Id},bus=hp{d.Slot},mac={d.Mac ?? GuestNic.Derived(guest, d.Id)}"],
            "virtio-net-pci" when d.Slot is >= 0 and < 256 => ["-netdev", $"user,id=nd-{d.Id}", "-device", $"virtio-net-pci,id={d.Id},netdev=nd-{d.Id},bus=hp{d.Slot}"],
            _ => throw new ArgumentException($"device {d.Id}: type '{d.Driver}' cannot be hot-plugged"),
        };
    }

    /// <summary>Hot-plug slots are PCIe root ports: q35 machines only.</summary>
    public static bool HasPcieSlots(QemuOptions options, string? machine = null) =>
        options.HotplugSlots > 0 && (machine ?? options.Machine).Contains("q35", StringComparison.Ordinal);

    /// <summary>`model[,+flag,-flag],enforce`: QEMU refuses to start rather than silently drop a flag the host lacks.</summary>
    public static string Cpu(GuestCpu cpu)
    {
        if (cpu.Mode == CpuMode.HostPassthrough) return "host";
        var model = cpu.Model ?? "qemu64";
        if (!CpuModel().IsMatch(model)) throw new ArgumentException($"cpu.model '{model}' is not a CPU model name");
        var parts = new List<string> { model };
        foreach (var f in cpu.Flags)
        {
            if (!CpuFlag().IsMatch(f.Flag)) throw new ArgumentException($"cpu.flags: '{f.Flag}' is not a CPU flag name");
            parts.Add((f.Enabled ? "+" : "-") + f.Flag);
        }
        parts.Add("enforce");
        return string.Join(',', parts);
    }

    /// <summary>Doubles commas: QEMU reads ",," inside an option value as one literal comma.</summary>
    public static string Escape(string value) => value.Replace(",", ",,", StringComparison.Ordinal);

    private static string CheckedPath(string path, string field)
    {
        if (!Path.IsPathFullyQualified(path) || path.Any(char.IsControl) || path.Contains("/../", StringComparison.Ordinal))
            throw new ArgumentException($"{field}: '{path}' must be an absolute path");
        return path;
    }

    /// <summary>A guest without a UUID keeps the same one across restarts and migrations: derived from its name.</summary>
    public static Guid DeterministicUuid(string name)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("kvmcluster:" + name));
        hash[6] = (byte)(hash[6] & 0x0F | 0x50); // version 5-style
        hash[8] = (byte)(hash[8] & 0x3F | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }
}
