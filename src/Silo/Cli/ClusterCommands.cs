using System.CommandLine;
using System.Text.Json;
using Spectre.Console;

namespace KvmCluster.Silo.Cli;

/// <summary>The operator verbs: each talks to a silo's API (--api, default http://127.0.0.1:8080).</summary>
public static class ClusterCommands
{
    public static readonly Option<string?> Api = new("--api") { Description = "Silo API URLs, comma-separated: the next is tried when one is unreachable (env KVMCLUSTER_API)", Recursive = true };
    public static readonly Option<double> Timeout = new("--timeout") { Description = "Seconds to wait for a silo's answer", DefaultValueFactory = _ => 60, Recursive = true };
    public static readonly Option<string?> Token = new("--token") { Description = "API token (env KVMCLUSTER_TOKEN, else the local silo's token file)", Recursive = true };
    public static readonly Option<bool> Json = new("--json") { Description = "Print the API's JSON instead of a table", Recursive = true };

    public static IEnumerable<Command> Create()
    {
        yield return Verb("hosts", "List hosts: capacity, guests, reachability", async (c, p) =>
        {
            var hosts = await c.Get("api/hosts");
            if (Raw(p, hosts)) return 0;
            var t = new Table().AddColumns("Host", "Reachable", "Power", "Driver", "vCPU used / threads", "Memory used / total MiB", "Guests", "Maintenance", "Labels");
            foreach (var h in hosts.EnumerateArray())
            {
                var facts = h.GetProperty("facts");
                var labels = h.TryGetProperty("labels", out var l) ? string.Join(",", l.EnumerateObject().Select(kv => $"{kv.Name}={kv.Value.GetString()}")) : "";
                t.AddRow(Esc(h, "name"), h.GetProperty("reachable").GetBoolean() ? "[green]yes[/]" : "[red]no[/]", Esc(h, "power"), Esc(h, "driver"),
                    $"{h.GetProperty("usedVCpus")} / {facts.GetProperty("cpu").GetProperty("threads")}",
                    $"{h.GetProperty("usedMemoryMiB")} / {facts.GetProperty("memoryMiB")}",
                    h.GetProperty("guests").GetArrayLength().ToString(), facts.GetProperty("maintenance").GetBoolean() ? "on" : "", Markup.Escape(labels));
            }
            AnsiConsole.Write(t);
            return 0;
        });

        yield return Verb("guests", "List guests and where they run", async (c, p) =>
        {
            var guests = await c.Get("api/guests");
            if (Raw(p, guests)) return 0;
            var t = new Table().AddColumns("Guest", "Host", "Status", "vCPU", "Memory MiB", "Migration");
            foreach (var g in guests.EnumerateArray())
            {
                var spec = g.GetProperty("spec");
                t.AddRow(Esc(g, "name"), Esc(g, "host"), Esc(g, "status"), spec.GetProperty("vCpus").ToString(), spec.GetProperty("memoryMiB").ToString(), Esc(g, "migration"));
            }
            AnsiConsole.Write(t);
            return 0;
        });

        var launchFile = new Option<string>("-f", "--file") { Description = "Guest spec (JSON)", Required = true };
        var launch = Verb("launch", "Place a new guest with the active policy and start it", async (c, p) =>
        {
            var file = p.GetValue(launchFile)!;
            var placed = await c.PostText("api/guests", await ReadFile(file), "application/json");
            if (Raw(p, placed)) return 0;
            AnsiConsole.MarkupLine($"{Esc(placed, "guest")} → [green]{Esc(placed, "host")}[/]");
            foreach (var r in placed.GetProperty("reasons").EnumerateArray()) AnsiConsole.MarkupLine($"  because {Markup.Escape(r.GetString() ?? "")}");
            return 0;
        });
        launch.Options.Add(launchFile);
        yield return launch;

        yield return PolicyCommands.Create();
        yield return PlanCommands.Create();

        var guestArg = new Argument<string>("guest") { Description = "Guest to migrate" };
        var to = new Option<string?>("--to") { Description = "Destination host (default: where the active policy places it)" };
        var force = new Option<bool>("--force") { Description = "Go past the policy's concurrency limits (recorded in the event log)" };
        var offline = new Option<bool>("--offline") { Description = "Cold: pause the guest for the whole move, copy its non-shared disks, run it there (needs --to)" };
        var shutdown = new Option<bool>("--shutdown") { Description = "With --offline: shut it down (ACPI; --force destroys it after 60 s) and start it on --to (shared disks only; for guests with passed-through devices)" };
        var migrate = Verb("migrate", "Live-migrate a guest (within the policy's concurrency limits)", async (c, p) =>
        {
            if (p.GetValue(offline) && p.GetValue(to) is null) throw new Hosting.UsageException("--offline needs --to HOST");
            if (p.GetValue(shutdown))
            {
                if (!p.GetValue(offline)) throw new Hosting.UsageException("--shutdown goes with --offline");
                using var patient = ApiClient.From(p.GetValue(Api), p.GetValue(Token), Math.Max(p.GetValue(Timeout), 120));
                var placed = await patient.Post("api/migrations", new { guest = p.GetValue(guestArg), to = p.GetValue(to), force = p.GetValue(force), offline = true, shutdown = true });
                if (Raw(p, placed)) return 0;
                AnsiConsole.MarkupLine($"{Esc(placed, "guest")} shut down and started on [green]{Esc(placed, "host")}[/]");
                return 0;
            }
            var m = await c.Post("api/migrations", new { guest = p.GetValue(guestArg), to = p.GetValue(to), force = p.GetValue(force), offline = p.GetValue(offline) });
            if (Raw(p, m)) return 0;
            var order = m.GetProperty("order");
            AnsiConsole.MarkupLine($"migration {Esc(m, "id")}: {Esc(order, "guest")} {Esc(order, "from")} → {Esc(order, "to")} [bold]{Esc(m, "status")}[/] {Esc(m, "reason")}");
            return m.GetProperty("status").GetString() is "failed" or "cancelled" ? 1 : 0;
        });
        migrate.Arguments.Add(guestArg);
        migrate.Options.Add(to);
        migrate.Options.Add(force);
        migrate.Options.Add(offline);
        migrate.Options.Add(shutdown);
        yield return migrate;

        yield return GuestCommands.Define();
        yield return GuestCommands.Guest();
        yield return ConsoleCommand.Create();
        yield return BaselineCommand.Create();

        var tunedHost = new Argument<string>("host");
        var hugepages = new Option<string?>("--hugepages") { Description = "Reserve a hugepage pool: SIZE_KIB=PAGES, e.g. 2048=512" };
        var ksm = new Option<string?>("--ksm") { Description = "KSM on or off" };
        ksm.AcceptOnlyFromAmong("on", "off");
        var ksmScan = new Option<int?>("--ksm-pages-to-scan") { Description = "KSM pages_to_scan" };
        var ksmSleep = new Option<int?>("--ksm-sleep-ms") { Description = "KSM sleep_millisecs" };
        var thpEnabled = new Option<string?>("--thp") { Description = "Transparent hugepages: always, madvise or never" };
        thpEnabled.AcceptOnlyFromAmong([.. Policies.Model.ThpState.EnabledValues]);
        var thpDefrag = new Option<string?>("--thp-defrag") { Description = "Transparent hugepage defrag: always, defer, defer+madvise, madvise or never" };
        thpDefrag.AcceptOnlyFromAmong([.. Policies.Model.ThpState.DefragValues]);
        var tune = Verb("tune", "Reserve hugepages, set KSM and transparent hugepages on a host", async (c, p) =>
        {
            int? size = null; long? pages = null;
            if (p.GetValue(hugepages) is { } hp)
            {
                var parts = hp.Split('=');
                if (parts.Length != 2 || !int.TryParse(parts[0], out var s) || !long.TryParse(parts[1], out var n))
                    throw new Hosting.UsageException($"--hugepages '{hp}': expected SIZE_KIB=PAGES, e.g. 2048=512");
                (size, pages) = (s, n);
            }
            var ksmValue = p.GetValue(ksm);
            var r = await c.Post($"api/hosts/{Uri.EscapeDataString(p.GetValue(tunedHost)!)}/tuning", new
            {
                hugepageSizeKiB = size,
                hugepagePages = pages,
                ksmRun = ksmValue is null ? (bool?)null : ksmValue == "on",
                ksmPagesToScan = p.GetValue(ksmScan),
                ksmSleepMillisecs = p.GetValue(ksmSleep),
                thpEnabled = p.GetValue(thpEnabled),
                thpDefrag = p.GetValue(thpDefrag),
            });
            if (Raw(p, r)) return 0;
            var host = r.GetProperty("host");
            foreach (var pool in host.GetProperty("hugepages").EnumerateArray())
                AnsiConsole.MarkupLine($"hugepages {Esc(pool, "pageSizeKiB")} KiB: {Esc(pool, "free")} free of {Esc(pool, "total")}");
            var k = host.GetProperty("ksm");
            AnsiConsole.MarkupLine($"KSM {(k.GetProperty("enabled").GetBoolean() ? "on" : "off")}, {Esc(k, "pagesSharing")} pages sharing");
            var thp = host.GetProperty("transparentHugepages");
            AnsiConsole.MarkupLine($"transparent hugepages {Esc(thp, "enabled")}, defrag {Esc(thp, "defrag")}");
            return 0;
        });
        tune.Arguments.Add(tunedHost);
        foreach (var o in new Option[] { hugepages, ksm, ksmScan, ksmSleep, thpEnabled, thpDefrag }) tune.Options.Add(o);
        yield return tune;

        var hostArg = new Argument<string>("host");
        var onOff = new Argument<string>("state") { Description = "on or off" };
        onOff.AcceptOnlyFromAmong("on", "off");
        var maintenance = Verb("maintenance", "Put a host in maintenance (the next plan evacuates it) or take it out", async (c, p) =>
        {
            var h = await c.Post($"api/hosts/{Uri.EscapeDataString(p.GetValue(hostArg)!)}/maintenance", new { on = p.GetValue(onOff) == "on" });
            if (Raw(p, h)) return 0;
            AnsiConsole.MarkupLine($"host {Esc(h, "name")}: maintenance {p.GetValue(onOff)}");
            return 0;
        });
        maintenance.Arguments.Add(hostArg);
        maintenance.Arguments.Add(onOff);
        yield return maintenance;

        var labelledHost = new Argument<string>("host");
        var labelArgs = new Argument<string[]>("labels") { Description = "KEY=VALUE to set, KEY- to remove", Arity = ArgumentArity.OneOrMore };
        var label = Verb("label", "Set (zone=a) or remove (zone-) host labels; host-affinity rules and requireHostLabels match them", async (c, p) =>
        {
            var set = new Dictionary<string, string>(StringComparer.Ordinal);
            var remove = new List<string>();
            foreach (var a in p.GetValue(labelArgs)!)
            {
                if (a.EndsWith('-') && !a.Contains('=')) remove.Add(a[..^1]);
                else if (a.IndexOf('=') is > 0 and var eq) set[a[..eq]] = a[(eq + 1)..];
                else throw new Hosting.UsageException($"'{a}' is neither KEY=VALUE nor KEY-");
            }
            var h = await c.Post($"api/hosts/{Uri.EscapeDataString(p.GetValue(labelledHost)!)}/labels", new { set, remove });
            if (Raw(p, h)) return 0;
            var labels = h.GetProperty("labels").EnumerateObject().Select(kv => $"{kv.Name}={kv.Value.GetString()}");
            AnsiConsole.MarkupLine($"host {Esc(h, "name")}: labels {Markup.Escape(string.Join(" ", labels))}");
            return 0;
        });
        label.Arguments.Add(labelledHost);
        label.Arguments.Add(labelArgs);
        yield return label;

        var subject = new Option<string?>("--subject") { Description = "Only events about this guest or host" };
        var limit = new Option<int>("--limit") { Description = "Newest N events", DefaultValueFactory = _ => 50 };
        var actor = new Option<string?>("--actor") { Description = "Only audited requests of this token's name (kind audit)" };
        var events = Verb("events", "Decisions and actions with their reasons", async (c, p) =>
        {
            var q = $"api/events?limit={p.GetValue(limit)}" + (p.GetValue(subject) is { } s ? "&subject=" + Uri.EscapeDataString(s) : "")
                + (p.GetValue(actor) is { } a ? "&actor=" + Uri.EscapeDataString(a) : "");
            var list = await c.Get(q);
            if (Raw(p, list)) return 0;
            foreach (var e in list.EnumerateArray())
            {
                AnsiConsole.MarkupLine($"[grey]{e.GetProperty("at").GetDateTimeOffset():u}[/] [bold]{Esc(e, "kind")}[/] {Esc(e, "message")}");
                foreach (var r in e.GetProperty("reasons").EnumerateArray()) AnsiConsole.MarkupLine($"    because {Markup.Escape(r.GetString() ?? "")}");
            }
            return 0;
        });
        events.Options.Add(subject);
        events.Options.Add(limit);
        events.Options.Add(actor);
        yield return events;
        yield return TokenCommands.Create();
        yield return StateCommands.Create();
    }

    public static Command Verb(string name, string description, Func<ApiClient, ParseResult, Task<int>> action)
    {
        var cmd = new Command(name, description);
        cmd.SetAction(async (parse, ct) =>
        {
            using var client = ApiClient.From(parse.GetValue(Api), parse.GetValue(Token), parse.GetValue(Timeout));
            return await action(client, parse);
        });
        return cmd;
    }

    public static bool Raw(ParseResult p, JsonElement json)
    {
        if (!p.GetValue(Json)) return false;
        Console.WriteLine(JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
        return true;
    }

    public static string Esc(JsonElement e, string property) =>
        e.TryGetProperty(property, out var v) && v.ValueKind != JsonValueKind.Null ? Markup.Escape(v.ToString()) : "";

    public static async Task<string> ReadFile(string file)
    {
        try { return await File.ReadAllTextAsync(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new Hosting.UsageException($"{file}: {e.Message}"); }
    }
}
