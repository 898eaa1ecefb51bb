namespace KvmCluster.Hosting.Power;

/// <summary>
/// Section KvmCluster:Power. `command`: an operator's executable, run as `COMMAND on|off|status HOST`.
/// `ipmitool`: one BMC per host (address, user, a file holding the password — never on the command line).
/// </summary>
public sealed class PowerOptions
{
    /// <summary>`--power command`: absolute path of the executable.</summary>
    public string? Command { get; set; }
    /// <summary>`--power ipmitool`: the ipmitool binary.</summary>
    public string Ipmitool { get; set; } = "ipmitool";
    /// <summary>ipmitool's interface (lanplus for IPMI 2.0 BMCs).</summary>
    public string Interface { get; set; } = "lanplus";
    /// <summary>Per host name: its BMC.</summary>
    public Dictionary<string, BmcOptions> Hosts { get; set; } = new(StringComparer.Ordinal);
    public double TimeoutSeconds { get; set; } = 60;
}

public sealed class BmcOptions
{
    public string Address { get; set; } = "";
    public string User { get; set; } = "";
    public string PasswordFile { get; set; } = "";
}
