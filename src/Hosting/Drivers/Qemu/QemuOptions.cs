namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>Section KvmCluster:Qemu: how this silo runs QEMU.</summary>
public sealed class QemuOptions
{
    public string Binary { get; set; } = "qemu-system-x86_64";
    public string Machine { get; set; } = "q35";
    /// <summary>auto (KVM when the CPU has vmx/svm and /dev/kvm is there, else TCG), kvm or tcg.</summary>
    public string Accel { get; set; } = "auto";
    /// <summary>Where hugetlbfs is mounted, per page size in KiB (2048, 1048576); missing ones are mounted under the state directory.</summary>
    public Dictionary<string, string> HugepageMounts { get; set; } = [];
    /// <summary>Directories on storage every hypervisor shares (besides the network filesystems found in /proc/mounts).</summary>
    public List<string> SharedMounts { get; set; } = [];
    /// <summary>Address incoming migrations listen on (this hypervisor's migration network).</summary>
    public string MigrationAddress { get; set; } = "127.0.0.1";
    /// <summary>Stop the guests when the silo stops (tests). A real hypervisor keeps them running and adopts them again.</summary>
    public bool StopGuestsOnShutdown { get; set; }
    /// <summary>qemu-img, which makes local and overlay disk images.</summary>
    public string ImgBinary { get; set; } = "qemu-img";
    /// <summary>Directories of backing images for overlay disks; every host keeps the same image at the same path.</summary>
    public List<string> ImageDirectories { get; set; } = ["/var/lib/kvmcluster/images"];
    /// <summary>
    /// Empty PCIe root ports every guest gets for hot-plugged PCI devices (q35 machines; native PCIe hot-plug). Part
    /// of the guest's device layout: every host of a fleet needs the same number for migrations to work.
    /// </summary>
    public int HotplugSlots { get; set; } = 4;
    /// <summary>
    /// TLS directory for the migration and NBD streams (ca-cert.pem, server-*, client-*; `kvmcluster certs host`).
    /// Default: the silo's --tls-dir. Every host of a fleet needs TLS on, or none: a QEMU with TLS refuses plaintext.
    /// </summary>
    public string? TlsDirectory { get; set; }
    /// <summary>Named networks guests' NICs join: name → the Linux bridge on this host (and a VLAN). Same names on every host.</summary>
    public Dictionary<string, NetworkOptions> Networks { get; set; } = [];
    /// <summary>PCI devices guests may have passed through (VFIO): vendor:device ids (10de:1db6) or addresses (0000:3b:00.0).</summary>
    public List<string> Passthrough { get; set; } = [];
    /// <summary>SR-IOV physical functions whose VFs guests may have: PF address → the network its port is on.</summary>
    public Dictionary<string, string> Sriov { get; set; } = [];
    /// <summary>Bind an assigned device to vfio-pci at launch (driver_override, unbind, drivers_probe); off: it must already be.</summary>
    public bool BindVfio { get; set; }
    /// <summary>Where sysfs is found (tests give a fixture tree).</summary>
    public string SysfsRoot { get; set; } = "/";
    public double CommandTimeoutSeconds { get; set; } = 10;
    /// <summary>How often a running migration's progress is read.</summary>
    public int ProgressMilliseconds { get; set; } = 100;
}
