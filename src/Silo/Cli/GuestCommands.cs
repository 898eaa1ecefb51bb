using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using static KvmCluster.Silo.Cli.ClusterCommands;

namespace KvmCluster.Silo.Cli;

/// <summary>
/// `kvmcluster define` and `kvmcluster guest NAME VERB`: a guest's life cycle as virsh has it (define, start,
/// shutdown, destroy, restart, undefine, edit) and the day-to-day operations on a running guest (pause, balloon,
/// hot-plug, snapshots).
/// </summary>
public static class GuestCommands
{
    private static readonly string[] LifeCycle = ["start", "shutdown", "destroy", "restart", "undefine", "edit", "monitor"];
    private static readonly string[] Operations = ["status", "stop", "cont", "powerdown", "reset", "balloon", "device-add", "device-del", "snapshot-save", "snapshot-load", "snapshot-delete"];

    public static Command Define()
    {
        var file = new Option<string>("-f", "--file") { Description = "Guest spec (JSON, or YAML as .yaml/.yml)", Required = true };
        var define = Verb("define", "Define a guest (its record and spec) without starting it", async (c, p) =>
        {
            var text = await Spec(p.GetValue(file)!);
            var name = NameIn(text, p.GetValue(file)!);
            var g = await c.PutText($"api/guests/{Uri.EscapeDataString(name)}", text, "application/json");
            if (Raw(p, g)) return 0;
            AnsiConsole.MarkupLine($"guest {Esc(g, "name")} [bold]{Esc(g, "status")}[/]: start it with 'kvmcluster guest {Markup.Escape(name)} start'");
            return 0;
        });
        define.Options.Add(file);
        return define;
    }

    public static Command Guest()
    {
        var guest = new Argument<string>("guest");
        var action = new Argument<string>("action")
        {
            Description = "start [--host H], shutdown [--wait S] [--force], destroy, restart, undefine [--remove-disks], edit -f FILE, monitor \"HMP COMMAND\" (admin); "
                + "on a running guest: status, stop (pause), cont, powerdown, reset, balloon MIB, device-add ID, device-del ID, snapshot-save|snapshot-load|snapshot-delete NAME",
        };
        action.AcceptOnlyFromAmong([.. LifeCycle, .. Operations]);
        var value = new Argument<string?>("value") { Description = "MiB for balloon; the device id or snapshot name; the monitor command", Arity = ArgumentArity.ZeroOrOne };
        var driver = new Option<string>("--driver") { Description = "Device type for device-add: virtserialport, virtio-net-pci (a NIC in a PCIe hot-plug slot) or vfio-pci (a passed-through device)", DefaultValueFactory = _ => "virtserialport" };
        var host = new Option<string?>("--host") { Description = "start: on this host (it must pass every constraint)" };
        var network = new Option<string?>("--network") { Description = "device-add of a virtio-net-pci NIC: on this named network (else QEMU's user-mode network)" };
        var pci = new Option<string?>("--pci") { Description = "device-add of a vfio-pci device: the vendor:device id wanted (the host picks a free one)" };
        var wait = new Option<int>("--wait") { Description = "shutdown, restart: seconds the guest has to power itself off", DefaultValueFactory = _ => 60 };
        var force = new Option<bool>("--force") { Description = "shutdown, restart: destroy the guest if it has not powered off by then" };
        var removeDisks = new Option<bool>("--remove-disks") { Description = "undefine: also delete the local and overlay disks it owns" };
        var file = new Option<string?>("-f", "--file") { Description = "edit: the new spec (JSON, or YAML as .yaml/.yml)" };
        var cmd = Verb("guest", "A guest's life cycle (start, shutdown, destroy, restart, undefine, edit) and operations on a running guest", async (c, p) =>
        {
            var name = p.GetValue(guest)!;
            var path = $"api/guests/{Uri.EscapeDataString(name)}";
            var verb = p.GetValue(action)!;
            switch (verb)
            {
                case "start":
                    return Placed(p, await c.Post(path + "/start", new { host = p.GetValue(host) }));
                case "shutdown" or "restart":
                    {
                        var seconds = p.GetValue(wait);
                        if (seconds is < 1 or > 600) throw new Hosting.UsageException("--wait must be 1..600 seconds");
                        // The call lasts as long as the guest takes: the client waits that long and a little more.
                        using var patient = ApiClient.From(p.GetValue(ClusterCommands.Api), p.GetValue(ClusterCommands.Token), Math.Max(p.GetValue(ClusterCommands.Timeout), seconds + 30));
                        var body = new { timeoutSeconds = seconds, force = p.GetValue(force) };
                        if (verb == "restart") return Placed(p, await patient.Post(path + "/restart", body));
                        return Shown(p, await patient.Post(path + "/shutdown", body));
                    }
                case "destroy":
                    return Shown(p, await c.Post(path + "/destroy"));
                case "undefine":
                    var gone = await c.Delete(path + (p.GetValue(removeDisks) ? "?removeDisks=true" : ""));
                    if (Raw(p, gone)) return 0;
                    AnsiConsole.MarkupLine($"guest {Esc(gone, "name")} undefined");
                    return 0;
                case "monitor":
                    var line = p.GetValue(value) ?? throw new Hosting.UsageException("monitor needs a command: kvmcluster guest NAME monitor \"info block\"");
                    var said = await c.Post(path + "/monitor", new { command = line });
                    if (Raw(p, said)) return 0;
                    Console.Out.Write(said.GetProperty("output").GetString());
                    return 0;
                case "edit":
                    var spec = p.GetValue(file) ?? throw new Hosting.UsageException("edit needs the new spec: kvmcluster guest NAME edit -f FILE");
                    var text = await Spec(spec);
                    if (NameIn(text, spec) != name) throw new Hosting.UsageException($"{spec}: the spec's name is not '{name}'");
                    return Shown(p, await c.PutText(path, text, "application/json"));
            }
            long? mib = null;
            var v = p.GetValue(value);
            if (verb == "balloon")
                mib = long.TryParse(v, out var m) && m > 0 ? m : throw new Hosting.UsageException("balloon needs a target in MiB, e.g. 'kvmcluster guest web-1 balloon 512'");
            var r = await c.Post(path + "/actions", new { action = verb, value = mib, name = verb == "balloon" ? null : v, driver = verb == "device-add" ? p.GetValue(driver) : null, network = p.GetValue(network), pci = p.GetValue(pci) });
            if (Raw(p, r)) return 0;
            AnsiConsole.MarkupLine($"guest {Esc(r, "guest")}: [bold]{Esc(r, "runState")}[/], balloon {Esc(r, "balloonActualMiB")} MiB, devices [[{List(r, "devices")}]], snapshots [[{List(r, "snapshots")}]]");
            return 0;
        });
        cmd.Arguments.Add(guest);
        cmd.Arguments.Add(action);
        cmd.Arguments.Add(value);
        foreach (var o in new Option[] { driver, host, network, pci, wait, force, removeDisks, file }) cmd.Options.Add(o);
        return cmd;
    }

    private static int Placed(ParseResult p, JsonElement placed)
    {
        if (Raw(p, placed)) return 0;
        AnsiConsole.MarkupLine($"{Esc(placed, "guest")} → [green]{Esc(placed, "host")}[/]");
        foreach (var r in placed.GetProperty("reasons").EnumerateArray()) AnsiConsole.MarkupLine($"  because {Markup.Escape(r.GetString() ?? "")}");
        return 0;
    }

    private static int Shown(ParseResult p, JsonElement g)
    {
        if (Raw(p, g)) return 0;
        var on = Esc(g, "host") is { Length: > 0 } h ? $" on {h}" : "";
        AnsiConsole.MarkupLine($"guest {Esc(g, "name")} [bold]{Esc(g, "status")}[/]{on}");
        return 0;
    }

    private static string List(JsonElement e, string property) =>
        string.Join(", ", e.GetProperty(property).EnumerateArray().Select(d => Markup.Escape(d.GetString() ?? "")));

    /// <summary>A spec file as the JSON the API reads (a YAML one converted).</summary>
    private static async Task<string> Spec(string file)
    {
        var text = await ReadFile(file);
        return YamlToJson.IsYaml(file) ? YamlToJson.Convert(text, file) : text;
    }

    /// <summary>The guest's name in a spec file (the URL needs it); a file without one is a usage error.</summary>
    private static string NameIn(string text, string file)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String) return n.GetString()!;
        }
        catch (JsonException e) { throw new Hosting.UsageException($"{file}: not JSON ({e.Message})"); }
        throw new Hosting.UsageException($"{file}: the spec has no name");
    }
}
