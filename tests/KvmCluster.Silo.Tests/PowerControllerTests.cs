using KvmCluster.Grains.Ports;
using KvmCluster.Hosting.Power;
using Microsoft.Extensions.Options;

namespace KvmCluster.Silo.Tests;

/// <summary>
/// Power controllers run real programs from argv arrays. There is no BMC here, so an executable that records its
/// arguments stands in for ipmitool; the command controller runs the operator's script as it would in production.
/// </summary>
public sealed class PowerControllerTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("kvmcluster-power-");

    private string Script(string name, string body)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private string Log => Path.Combine(_dir.FullName, "argv.log");

    [Fact]
    public async Task The_power_command_gets_verb_and_host_as_separate_arguments_and_its_failures_are_reported()
    {
        var command = Script("power.sh", $"printf '%s|' \"$@\" >> {Log}; echo >> {Log}\n[ \"$1\" = status ] && echo standby\n[ \"$2\" = hv-bad ] && {{ echo 'PDU outlet 7 unreachable' >&2; exit 3; }}\nexit 0");
        var power = new CommandPowerController(Options.Create(new PowerOptions { Command = command }));
        await power.PowerOnAsync("hv-1", CancellationToken.None);
        await power.PowerOffAsync("hv-2", CancellationToken.None);
        Assert.Equal(HostPowerStatus.Standby, await power.StatusAsync("hv-1", CancellationToken.None));
        Assert.Equal(["on|hv-1|", "off|hv-2|", "status|hv-1|"], File.ReadAllLines(Log));
        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => power.PowerOnAsync("hv-bad", CancellationToken.None));
        Assert.Contains("exited 3: PDU outlet 7 unreachable", failed.Message);
        // A name that could be read as an option or a shell word never reaches the program.
        await Assert.ThrowsAsync<ArgumentException>(() => power.PowerOnAsync("-rf;reboot", CancellationToken.None));
    }

    [Fact]
    public async Task Ipmitool_is_called_per_host_BMC_with_the_password_in_a_file_never_on_the_command_line()
    {
        var passwordFile = Path.Combine(_dir.FullName, "bmc-pass");
        File.WriteAllText(passwordFile, "s3cret-bmc");
        var ipmitool = Script("ipmitool", $"for a in \"$@\"; do echo \"$a\" >> {Log}; done\necho 'Chassis Power is on'");
        var power = new IpmiPowerController(Options.Create(new PowerOptions
        {
            Ipmitool = ipmitool,
            Hosts = new() { ["hv-7"] = new BmcOptions { Address = "10.0.7.1", User = "admin", PasswordFile = passwordFile } },
        }));
        await power.PowerOffAsync("hv-7", CancellationToken.None);
        Assert.Equal(["-I", "lanplus", "-H", "10.0.7.1", "-U", "admin", "-f", passwordFile, "chassis", "power", "soft"], File.ReadAllLines(Log));
        Assert.DoesNotContain("s3cret-bmc", File.ReadAllText(Log));
        Assert.Equal(HostPowerStatus.On, await power.StatusAsync("hv-7", CancellationToken.None));
        var unknown = await Assert.ThrowsAsync<InvalidOperationException>(() => power.PowerOnAsync("hv-8", CancellationToken.None));
        Assert.Contains("no BMC configured for host 'hv-8'", unknown.Message);
    }

    [Fact]
    public void Power_settings_are_checked_at_start_up()
    {
        Assert.Contains(PowerStatus.Problems("command", new PowerOptions()), p => p.Contains("absolute path"));
        var bad = new PowerOptions { Hosts = new() { ["hv-1"] = new BmcOptions { Address = "10.0.0.1;reboot", User = "ad min", PasswordFile = "pass" } } };
        var problems = PowerStatus.Problems("ipmitool", bad).ToList();
        Assert.Contains(problems, p => p.Contains(":Address '10.0.0.1;reboot'"));
        Assert.Contains(problems, p => p.Contains(":User 'ad min'"));
        Assert.Contains(problems, p => p.Contains(":PasswordFile 'pass'"));
        Assert.Empty(PowerStatus.Problems("none", new PowerOptions()));
    }

    [Fact]
    public async Task A_silo_started_with_an_unusable_power_setting_exits_with_a_usage_error()
    {
        using var silo = new ExternalProcess("dotnet", [ExternalProcess.Kvmcluster, "--power", "command", "--state-dir", _dir.FullName]);
        Assert.Equal(2, await silo.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("--power command needs KvmCluster:Power:Command", silo.Output);
        Assert.DoesNotContain("   at ", silo.Output);
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
