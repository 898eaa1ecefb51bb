using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using static KvmCluster.Silo.Cli.ClusterCommands;

namespace KvmCluster.Silo.Cli;

/// <summary>`kvmcluster baseline [set MODEL | clear]`: the cluster's CPU baseline, what every host offers, who lacks it.</summary>
public static class BaselineCommand
{
    public static Command Create()
    {
        var action = new Argument<string?>("action") { Description = "set MODEL, or clear; nothing: show it", Arity = ArgumentArity.ZeroOrOne };
        action.AcceptOnlyFromAmong("set", "clear");
        var model = new Argument<string?>("model") { Description = "set: a QEMU CPU model every host should offer", Arity = ArgumentArity.ZeroOrOne };
        var cmd = Verb("baseline", "The cluster's CPU baseline: new guests with the default CPU get its model (admins set it)", async (c, p) =>
        {
            var b = p.GetValue(action) switch
            {
                "set" => await c.PutText("api/baseline", JsonSerializer.Serialize(new { model = p.GetValue(model) ?? throw new Hosting.UsageException("baseline set needs a model, e.g. Skylake-Server") }), "application/json"),
                "clear" => await c.Delete("api/baseline"),
                _ => await c.Get("api/baseline"),
            };
            if (Raw(p, b)) return 0;
            AnsiConsole.MarkupLine(b.GetProperty("model").ValueKind == JsonValueKind.Null ? "no CPU baseline set" : $"CPU baseline [bold]{Esc(b, "model")}[/]");
            AnsiConsole.MarkupLine($"offered by every reachable host: {string.Join(", ", b.GetProperty("commonModels").EnumerateArray().Select(m => Markup.Escape(m.GetString() ?? "")))}");
            var lacking = b.GetProperty("hostsLacking").EnumerateArray().Select(h => h.GetString() ?? "").ToList();
            if (lacking.Count > 0) AnsiConsole.MarkupLine($"[yellow]cannot run it, take no baseline guests:[/] {Markup.Escape(string.Join(", ", lacking))}");
            return 0;
        });
        cmd.Arguments.Add(action);
        cmd.Arguments.Add(model);
        return cmd;
    }
}
