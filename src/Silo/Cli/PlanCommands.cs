using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using static KvmCluster.Silo.Cli.ClusterCommands;

namespace KvmCluster.Silo.Cli;

/// <summary>`kvmcluster plan` (dry run: a planning round now, moves and reasons), `plan list`, `plan show|approve|execute|cancel ID`.</summary>
public static class PlanCommands
{
    public static Command Create()
    {
        var plan = Verb("plan", "Run a planning round now and show the plan (nothing moves until it is executed)", async (c, p) =>
        {
            var view = await c.Post("api/plans");
            if (!Raw(p, view)) Show(view);
            return 0;
        });
        plan.Subcommands.Add(Verb("list", "Plans kept by the scheduler", async (c, p) =>
        {
            var list = await c.Get("api/plans");
            if (Raw(p, list)) return 0;
            var t = new Table().AddColumns("Plan", "Policy", "State", "Created", "Migrations", "Power actions");
            foreach (var v in list.EnumerateArray())
                t.AddRow(Esc(v, "id"), Esc(v, "policy"), Esc(v, "state"), Esc(v, "createdAt"), v.GetProperty("moves").GetArrayLength().ToString(), v.GetProperty("powerActions").GetArrayLength().ToString());
            AnsiConsole.Write(t);
            return 0;
        }));
        foreach (var (verb, description, action) in new[]
                 {
                     ("show", "Show a plan", ""),
                     ("approve", "Approve a recommended plan", "approve"),
                     ("execute", "Execute a plan (approves it first if needed)", "execute"),
                     ("cancel", "Cancel a plan", "cancel"),
                 })
        {
            var id = new Argument<string>("id");
            var wait = new Option<bool>("--wait") { Description = "Wait until the plan has ended" };
            var cmd = Verb(verb, description, async (c, p) =>
            {
                var path = $"api/plans/{Uri.EscapeDataString(p.GetValue(id)!)}";
                var view = action == "" ? await c.Get(path) : await c.Post($"{path}/{action}");
                while (p.GetValue(wait) && view.GetProperty("state").GetString() is "EXECUTING" or "APPROVED")
                {
                    await Task.Delay(500);
                    view = await c.Get(path);
                }
                if (!Raw(p, view)) Show(view);
                return view.GetProperty("state").GetString() == "FAILED" ? 1 : 0;
            });
            cmd.Arguments.Add(id);
            if (action == "execute") cmd.Options.Add(wait);
            plan.Subcommands.Add(cmd);
        }
        return plan;
    }

    private static void Show(JsonElement plan)
    {
        AnsiConsole.MarkupLine($"plan [bold]{Esc(plan, "id")}[/] policy={Esc(plan, "policy")} state=[bold]{Esc(plan, "state")}[/]");
        foreach (var n in plan.GetProperty("notes").EnumerateArray()) AnsiConsole.MarkupLine($"note: {Markup.Escape(n.GetString() ?? "")}");
        var moves = plan.GetProperty("moves");
        if (moves.GetArrayLength() == 0 && plan.GetProperty("powerActions").GetArrayLength() == 0) AnsiConsole.WriteLine("no actions");
        foreach (var m in moves.EnumerateArray())
        {
            AnsiConsole.MarkupLine($"  {m.GetProperty("step")}. wave {m.GetProperty("wave")}: migrate {Esc(m, "guest")} {Esc(m, "from")} → {Esc(m, "to")} {(m.TryGetProperty("offline", out var off) && off.GetBoolean() ? "[yellow]offline, down[/] " : "")}(~{m.GetProperty("predictedSeconds").GetDouble():0.#} s){(m.TryGetProperty("migration", out var mid) && mid.ValueKind == JsonValueKind.String ? " [grey]" + Markup.Escape(mid.GetString()!) + "[/]" : "")}");
            foreach (var r in m.GetProperty("reasons").EnumerateArray()) AnsiConsole.MarkupLine($"     because {Markup.Escape(r.GetString() ?? "")}");
        }
        foreach (var a in plan.GetProperty("powerActions").EnumerateArray())
            AnsiConsole.MarkupLine($"  {a.GetProperty("step")}. {Esc(a, "operation")} {Esc(a, "host")}");
        foreach (var r in plan.GetProperty("refused").EnumerateArray())
            AnsiConsole.MarkupLine($"  refused: {Esc(r, "guest")} {Esc(r, "from")} → {Esc(r, "to")}: {Esc(r, "reason")}");
    }
}
