using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Ports;
using KvmCluster.Hosting.Facts;
using KvmCluster.Policies.Model;
using Microsoft.Extensions.Logging;
using Host = KvmCluster.Policies.Model.Host;

namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>
/// This hypervisor's guests as QEMU processes driven over QMP. A migration goes QEMU to QEMU: the destination starts
/// an identical QEMU with `-incoming defer` and listens; the source migrates to it with the order's bandwidth and
/// downtime limits and reports progress; any failure or cancel leaves the source running.
/// </summary>
public sealed partial class QemuHypervisor(string name, QemuOptions options, string stateDirectory, ILogger log, IFaultInjection? faults = null) : IHypervisor, IAsyncDisposable
{
    private enum Role { Running, Incoming }
    private sealed record Vm(Guest Spec, QemuProcess Qemu, Role Role)
    {
        /// <summary>The QEMU process's CPU time at the last usage sample.</summary>
        public (double Seconds, DateTime At) LastCpu { get; set; }
        /// <summary>QEMU's dirty rate while the guest migrates out (null otherwise).</summary>
        public double? DirtyMiBps { get; set; }
        /// <summary>A calc-dirty-rate was started at the last sample (its result is read at the next).</summary>
        public bool DirtyCalcStarted { get; set; }
        public double LastDirtyMiBps { get; set; }
    }

    private readonly ConcurrentDictionary<string, Vm> _vms = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<string> _mounted = [];
    private readonly SemaphoreSlim _probe = new(1, 1);
    private readonly QemuDisks _disks = new(options, Path.Combine(stateDirectory, "qemu"));
    private readonly QemuNetworks _networks = new(options.Networks, log);
    private string _networkProblems = "";
    private string HostName => name;
    private readonly QemuMigrationTls? _tls = QemuMigrationTls.From(options);
    private string? _accel;
    private ImmutableSortedSet<string>? _models;
    private string? _problem;
    private double _mhzPerThread = 1000;
    private TimeSpan Timeout => TimeSpan.FromSeconds(options.CommandTimeoutSeconds);
    private readonly IFaultInjection _faults = faults ?? NoFaultInjection.Instance;
    private string Directory => Path.Combine(stateDirectory, "qemu");

    /// <summary>"qemu 7.2.0 (tcg)" once probed: the host's report says which QEMU and accelerator run its guests.</summary>
    public string Kind => _version is null ? "qemu" : $"qemu {_version} ({_accel})";
    private string? _version;
    private ImmutableArray<string> _machines = [];
    private Dictionary<string, string> _machineAliases = new(StringComparer.Ordinal);

    public async Task<(Host Facts, string? Problem)> DiscoverAsync(CancellationToken cancellationToken)
    {
        await ProbeAsync(cancellationToken);
        var facts = LinuxHostFacts.Discover(name, "/", _models);
        _mhzPerThread = facts.Host.Cpu.MhzPerThread;
        var problems = new List<string>();
        var networks = _networks.Discover(problems);
        var (devices, sriov) = Devices(new List<(string, string)>());
        // Said once per change: a configured network without its bridge is not this host's (guests on it go elsewhere).
        if (string.Join("; ", problems) is var said && said != _networkProblems && (_networkProblems = said).Length > 0) log.LogWarning("networks: {Problems}", said);
        return (facts.Host with
        {
            Name = name,
            Storage = SharedStorage.Discover(options.SharedMounts, stateDirectory) with { BackingImages = _disks.BackingImages().ToImmutableSortedSet(StringComparer.Ordinal) },
            Networks = [.. networks],
            PciDevices = devices,
            Sriov = sriov,
            Qemu = _version is null ? null : new QemuCapabilities(_version, _machines),
        }, _problem);
    }

    /// <summary>Once: is QEMU there, which accelerator, which CPU models it can give guests here.</summary>
    private async Task ProbeAsync(CancellationToken cancellationToken)
    {
        if (_accel is not null || _problem is not null) return;
        await _probe.WaitAsync(cancellationToken);
        try
        {
            if (_accel is not null || _problem is not null) return;
            // Sockets, serial logs, disk images: owner only.
            System.IO.Directory.CreateDirectory(Directory);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var kvm = LinuxHostFacts.Discover(name).KvmProblem is null;
            var accel = options.Accel switch { "auto" => kvm ? "kvm" : "tcg", "kvm" or "tcg" => options.Accel, _ => throw new ArgumentException($"KvmCluster:Qemu:Accel '{options.Accel}'") };
            var files = GuestFiles.For(Directory, "probe");
            try
            {
                await using var qemu = await QemuProcess.StartAsync(options.Binary,
                    ["-machine", "none", "-accel", accel, "-nodefaults", "-display", "none", "-S", "-qmp", $"unix:{QemuCommandLine.Escape(files.Qmp)},server=on,wait=off"],
                    files, Timeout, cancellationToken);
                var definitions = await qemu.Qmp.ExecuteAsync("query-cpu-definitions", timeout: Timeout, cancellationToken: cancellationToken);
                _models = [.. definitions.EnumerateArray()
                    .Where(d => !d.TryGetProperty("unavailable-features", out var u) || u.GetArrayLength() == 0)
                    .Select(d => d.GetProperty("name").GetString()!)];
                log.LogInformation("QEMU {Version} with {Accel}: {Count} CPU models usable", qemu.Qmp.Version, accel, _models.Count);
                _version = qemu.Qmp.Version;
                var machines = await qemu.Qmp.ExecuteAsync("query-machines", timeout: Timeout, cancellationToken: cancellationToken);
                _machineAliases = machines.EnumerateArray().Where(m => m.TryGetProperty("alias", out _))
                    .ToDictionary(m => m.GetProperty("alias").GetString()!, m => m.GetProperty("name").GetString()!, StringComparer.Ordinal);
                _machines = [.. machines.EnumerateArray().Select(m => m.GetProperty("name").GetString()!).Concat(_machineAliases.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
                await AdoptAsync();
                await qemu.StopAsync(TimeSpan.FromSeconds(2));
                _accel = accel;
            }
            catch (Exception e) when (e is InvalidOperationException or QemuStartException or TimeoutException or QmpException)
            {
                _problem = $"QEMU is not usable here ({options.Binary}): {e.Message}";
                log.LogWarning("{Problem}; this host accepts no guests", _problem);
            }
        }
        finally { _probe.Release(); }
    }

    private static Task SaveSpec(Guest spec, GuestFiles files) =>
        File.WriteAllTextAsync(files.Spec, JsonSerializer.Serialize(spec, Grains.Serialization.PolicyTypesSerialization.Options));

    /// <summary>
    /// Guests outlive their silo (a hypervisor agent restarts without taking its guests down): a new silo takes over
    /// every QEMU a spec and pid file name that is still running and answers on its QMP socket, and cleans up the rest.
    /// </summary>
    private async Task AdoptAsync()
    {
        foreach (var specFile in System.IO.Directory.EnumerateFiles(Directory, "*.spec.json"))
        {
            var name = Path.GetFileName(specFile)[..^".spec.json".Length];
            if (GuestName.Problem(name) is not null || _vms.ContainsKey(name)) continue;
            var files = GuestFiles.For(Directory, name);
            var qemu = await QemuProcess.AttachAsync(files, Timeout);
            Guest? spec = null;
            try { spec = JsonSerializer.Deserialize<Guest>(await File.ReadAllTextAsync(specFile), Grains.Serialization.PolicyTypesSerialization.Options); }
            catch (JsonException e) { log.LogWarning("spec of {Guest} unreadable: {Error}", name, e.Message); }
            var status = qemu is null ? null : (await qemu.Qmp.ExecuteAsync("query-status", timeout: Timeout)).GetProperty("status").GetString();
            if (qemu is not null && spec is not null && await AdoptMigrating(name, spec, qemu, files, status)) continue;
            // Without a migration record an incoming or handed-over QEMU is a leftover; a stopped one is no guest.
            if (qemu is null || spec is null || status is "inmigrate" or "postmigrate" or "shutdown" or "guest-panicked")
            {
                if (qemu is not null) await qemu.KillAsync();
                File.Delete(specFile);
                File.Delete(files.Migration);
                log.LogInformation("guest {Guest} not adopted (QEMU {State})", name, status ?? "not running");
                continue;
            }
            _vms[name] = new Vm(spec, qemu, Role.Running);
            log.LogInformation("adopted guest {Guest} (QEMU pid {Pid}, {State})", name, qemu.Process.Id, status);
        }
    }

    public async Task<IReadOnlyList<Guest>> InventoryAsync(CancellationToken cancellationToken)
    {
        var list = new List<Guest>();
        foreach (var (name, vm) in _vms)
        {
            if (vm.Role == Role.Running && vm.Qemu.HasExited && _vms.TryRemove(name, out _))
            {
                // Its QEMU ended: forget it (the host grain records how), keep its serial log for the post-mortem.
                var exit = await NoteExit(name, vm.Qemu);
                await _networks.DeleteAsync(HostName, vm.Spec);
                if (exit.Kind == GuestExitKind.ShutDown) log.LogInformation("guest {Guest} {Why}", name, exit.Why);
                else log.LogWarning("guest {Guest}: {Why}", name, exit.Why);
                _ = vm.Qemu.KillAsync();
                continue;
            }
            if (vm.Role != Role.Running || vm.Qemu.HasExited) continue;
            list.Add(vm.Spec with { Disks = await DiskUseAsync(vm, cancellationToken), Paused = await IsPausedAsync(vm, cancellationToken) });
        }
        list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return list;
    }

    /// <summary>Paused by an operator (QEMU's stop) or started paused (-S, still in prelaunch).</summary>
    private async Task<bool> IsPausedAsync(Vm vm, CancellationToken cancellationToken)
    {
        try
        {
            var status = (await vm.Qemu.Qmp.ExecuteAsync("query-status", timeout: Timeout, cancellationToken: cancellationToken)).GetProperty("status").GetString();
            return status is "paused" or "prelaunch";
        }
        catch (QmpException e) { log.LogDebug("query-status of {Guest}: {Error}", vm.Spec.Name, e.Message); return vm.Spec.Paused; }
    }

    /// <summary>The data each local and overlay disk holds now (`query-block`'s actual-size): what moving it copies.</summary>
    private async Task<ImmutableArray<GuestDisk>> DiskUseAsync(Vm vm, CancellationToken cancellationToken)
    {
        var disks = vm.Spec.Disks;
        if (!vm.Spec.CopiesDisksOnMigration) return disks;
        try
        {
            var blocks = await vm.Qemu.Qmp.ExecuteAsync("query-block", timeout: Timeout, cancellationToken: cancellationToken);
            foreach (var b in blocks.EnumerateArray())
            {
                if (b.GetProperty("device").GetString() is not { } device || !device.StartsWith("disk", StringComparison.Ordinal)
                    || !int.TryParse(device.AsSpan(4), System.Globalization.CultureInfo.InvariantCulture, out var i) || i >= disks.Length || !disks[i].IsCopiedOnMigration) continue;
                if (b.TryGetProperty("inserted", out var inserted) && inserted.GetProperty("image").TryGetProperty("actual-size", out var size))
                    disks = disks.SetItem(i, disks[i] with { UsedMiB = Math.Max(1, size.GetInt64() / (1024 * 1024)) });
            }
        }
        catch (QmpException e) { log.LogDebug("query-block of {Guest}: {Error}", vm.Spec.Name, e.Message); }
        return disks;
    }

    public async Task<Guest> LaunchAsync(Guest guest, CancellationToken cancellationToken)
    {
        await EnsureUsable(cancellationToken);
        if (_vms.ContainsKey(guest.Name)) throw ClusterException.Conflict($"guest '{guest.Name}' already exists on this host");
        // The machine type is pinned now, to the versioned name this QEMU gives the configured alias (q35 →
        // pc-q35-7.2): the guest keeps its device model wherever it goes, as libvirt keeps it in the domain XML.
        guest = await AssignDevices(guest with { Machine = guest.Machine ?? Pinned(options.Machine) });
        await _disks.CreateAsync(guest, fresh: false, cancellationToken);
        var qemu = await Start(guest, incoming: false, cancellationToken);
        if (!_vms.TryAdd(guest.Name, new Vm(guest, qemu, Role.Running))) { await qemu.KillAsync(); throw ClusterException.Conflict($"guest '{guest.Name}' already exists on this host"); }
        await SaveSpec(guest, qemu.Files);
        return guest;
    }

    /// <summary>This host's assignable devices and VFs, each marked with the running guest that holds it.</summary>
    private (ImmutableArray<PciDevice>, ImmutableArray<SriovFunction>) Devices(List<(string Address, string Network)> vfs)
    {
        if (options.Passthrough.Count == 0 && options.Sriov.Count == 0) return ([], []);
        var assigned = _vms.Values.SelectMany(v => v.Spec.HostDevices.Select(a => (a, v.Spec.Name))).ToDictionary(x => x.a, x => x.Name, StringComparer.Ordinal);
        return PciInventory.Facts(PciInventory.Read(options.SysfsRoot), options.Passthrough, options.Sriov, assigned, vfs);
    }

    /// <summary>
    /// The devices and VFs a guest gets here (never one another guest holds), bound to vfio-pci when configured to.
    /// A guest arriving with addresses (an adopted spec) keeps them.
    /// </summary>
    private async Task<Guest> AssignDevices(Guest guest, IEnumerable<string>? alsoTaken = null)
    {
        if (!guest.HasPassthrough && guest.SriovVfs == 0) return guest with { HostDevices = [] };
        var vfs = new List<(string Address, string Network)>();
        var (devices, _) = Devices(vfs);
        var taken = _vms.Values.Where(v => v.Spec.Name != guest.Name).SelectMany(v => v.Spec.HostDevices).Concat(alsoTaken ?? []).ToHashSet(StringComparer.Ordinal);
        var (addresses, problem) = Policies.Placement.DeviceAllocation.For(guest, devices, vfs, taken);
        if (problem is not null) throw ClusterException.Conflict($"host {name} cannot give guest '{guest.Name}' its devices: {problem}");
        if (options.BindVfio) foreach (var a in addresses) await VfioBinding.BindAsync(options.SysfsRoot, a);
        return guest with { HostDevices = addresses };
    }

    private string Pinned(string machine) => _machineAliases.GetValueOrDefault(machine, machine);

    private async Task<QemuProcess> Start(Guest guest, bool incoming, CancellationToken cancellationToken)
    {
        var files = GuestFiles.For(Directory, guest.Name);
        var mount = HugepageMount(guest);
        IReadOnlyList<string> args;
        try { args = QemuCommandLine.For(guest, options, _accel!, files, mount, incoming, name); }
        catch (ArgumentException e) { throw ClusterException.Invalid(e.Message); }
        if (guest.Cdrom is { } iso && !File.Exists(iso)) throw ClusterException.Invalid($"ISO {iso} does not exist on {name}", "cdrom");
        if (guest.Boot?.Initrd is { } initrd && !File.Exists(initrd)) throw ClusterException.Invalid($"initramfs {initrd} does not exist on {name}", "boot.initrd");
        if (guest.Boot is { } boot && !File.Exists(boot.Kernel)) throw ClusterException.Invalid($"kernel {boot.Kernel} does not exist on {name}", "boot.kernel");
        if (guest.HugepageSizeKiB is { } size && mount is not null && !options.HugepageMounts.ContainsKey(size.ToString(System.Globalization.CultureInfo.InvariantCulture))
            && await HostMemoryTuning.EnsureHugetlbfsAsync(mount, size))
            _mounted.Add(mount);
        await _networks.CreateAsync(name, guest, cancellationToken);
        try { return await QemuProcess.StartAsync(options.Binary, args, files, Timeout, cancellationToken); }
        catch (QemuStartException e)
        {
            await _networks.DeleteAsync(name, guest);
            throw ClusterException.Conflict($"QEMU refused to start guest '{guest.Name}' on {name}: {e.Stderr}");
        }
        catch
        {
            await _networks.DeleteAsync(name, guest);
            throw;
        }
    }

    private string? HugepageMount(Guest guest)
    {
        if (guest.HugepageSizeKiB is not { } size) return null;
        var key = size.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return options.HugepageMounts.TryGetValue(key, out var mount) ? mount : Path.Combine(stateDirectory, $"hugepages-{key}kB");
    }

    public async Task StopAsync(string guest, CancellationToken cancellationToken)
    {
        if (!_vms.TryRemove(guest, out var vm)) throw ClusterException.NotFound($"no guest '{guest}' on this host");
        await vm.Qemu.StopAsync(TimeSpan.FromSeconds(5));
        await vm.Qemu.DisposeAsync();
        await _networks.DeleteAsync(name, vm.Spec);
    }

    public Task RemoveDisksAsync(Guest guest, CancellationToken cancellationToken)
    {
        if (_vms.ContainsKey(guest.Name)) throw ClusterException.Conflict($"guest '{guest.Name}' runs on {name}: its disks stay");
        _disks.Delete(guest);
        return Task.CompletedTask;
    }

    public Task TuneAsync(HostTuning tuning, CancellationToken cancellationToken) => HostMemoryTuning.ApplyAsync(tuning);

    public async Task<GuestControlResult> ControlAsync(string guest, GuestControl control, CancellationToken cancellationToken)
    {
        if (!_vms.TryGetValue(guest, out var vm) || vm.Role != Role.Running || vm.Qemu.HasExited) throw ClusterException.NotFound($"no running guest '{guest}' on this host");
        var operations = new QemuGuestOperations(vm.Qemu.Qmp, Timeout, QemuCommandLine.HasPcieSlots(options, vm.Spec.Machine) ? options.HotplugSlots : 0,
            (async (network, device, ct) =>
            {
                var tap = QemuNetworks.TapName(name, guest, device);
                await _networks.CreateTapAsync(network, tap, name, "network", ct);
                return tap;
            }, device => _networks.DeleteTapAsync(QemuNetworks.TapName(name, guest, device))),
            async (spec, pci) =>
            {
                var one = await AssignDevices(spec with { PciDevices = [pci], SriovVfs = 0, HostDevices = [] }, spec.HostDevices);
                return one.HostDevices.Single();
            },
            address => PciInventory.Read(options.SysfsRoot).FirstOrDefault(d => d.Address == address)?.VendorDevice);
        var spec = await operations.ApplyAsync(vm.Spec, control, cancellationToken);
        if (spec != vm.Spec)
        {
            _vms[guest] = vm with { Spec = spec };
            await SaveSpec(spec, vm.Qemu.Files);
        }
        return await operations.ResultAsync(spec, cancellationToken);
    }

    private readonly ConcurrentDictionary<string, QemuConsole> _consoles = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _consoleGate = new(1, 1);

    /// <summary>The guest's console, attached on first use and again when its QEMU changed (a restart, an arrival).</summary>
    private async Task<QemuConsole> Console(string guest, CancellationToken cancellationToken)
    {
        if (!_vms.TryGetValue(guest, out var vm) || vm.Role != Role.Running || vm.Qemu.HasExited) throw ClusterException.NotFound($"no running guest '{guest}' on this host");
        if (_consoles.TryGetValue(guest, out var open) && !open.Closed) return open;
        await _consoleGate.WaitAsync(cancellationToken);
        try
        {
            if (_consoles.TryGetValue(guest, out open) && !open.Closed) return open;
            if (open is not null) await open.DisposeAsync();
            try { return _consoles[guest] = await QemuConsole.ConnectAsync(vm.Qemu.Files.Console, cancellationToken); }
            catch (System.Net.Sockets.SocketException e) { throw ClusterException.Conflict($"the console of guest '{guest}' cannot be attached: {e.Message}"); }
        }
        finally { _consoleGate.Release(); }
    }

    public async Task<ConsoleOutput> ConsoleReadAsync(string guest, long from, CancellationToken cancellationToken)
    {
        var (data, next) = (await Console(guest, cancellationToken)).Read(from);
        return new ConsoleOutput(data, next);
    }

    public async Task ConsoleWriteAsync(string guest, byte[] data, CancellationToken cancellationToken) =>
        await (await Console(guest, cancellationToken)).WriteAsync(data, cancellationToken);

    public async Task<string?> SerialLogAsync(string guest, int maxBytes, CancellationToken cancellationToken)
    {
        var file = GuestFiles.For(Directory, guest).Serial;
        if (!File.Exists(file)) return null;
        await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(Math.Max(0, stream.Length - maxBytes), SeekOrigin.Begin);
        return await new StreamReader(stream).ReadToEndAsync(cancellationToken);
    }

    public async Task<string> MonitorAsync(string guest, string command, CancellationToken cancellationToken)
    {
        if (!_vms.TryGetValue(guest, out var vm) || vm.Role != Role.Running || vm.Qemu.HasExited) throw ClusterException.NotFound($"no running guest '{guest}' on this host");
        try
        {
            return (await vm.Qemu.Qmp.ExecuteAsync("human-monitor-command", new Dictionary<string, object> { ["command-line"] = command }, TimeSpan.FromSeconds(60), cancellationToken))
                .GetString() ?? "";
        }
        catch (QmpException e) { throw ClusterException.Conflict($"QEMU: {e.Message}"); }
    }

    private async Task EnsureUsable(CancellationToken cancellationToken)
    {
        await ProbeAsync(cancellationToken);
        if (_problem is not null) throw ClusterException.Unavailable(_problem);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var console in _consoles.Values) await console.DisposeAsync();
        foreach (var vm in _vms.Values)
        {
            if (options.StopGuestsOnShutdown) { await vm.Qemu.KillAsync(); await _networks.DeleteAsync(name, vm.Spec); }
            await vm.Qemu.DisposeAsync();
        }
        // Mounts this driver made go with the guests it stops (a real hypervisor keeps both).
        if (options.StopGuestsOnShutdown) foreach (var m in _mounted) await HostMemoryTuning.UnmountAsync(m);
    }
}
