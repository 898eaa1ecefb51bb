using System.CommandLine;
using Spectre.Console;
using static KvmCluster.Silo.Cli.ClusterCommands;

namespace KvmCluster.Silo.Cli;

/// <summary>`kvmcluster policy apply -f FILE | list | show NAME | activate NAME [--version N]`.</summary>
public static class PolicyCommands
{
    public static Command Create()
    {
        var policy = new Command("policy", "Submit, list, show and activate policies");
        var file = new Option<string>("-f", "--file") { Description = "Policy document (YAML)", Required = true };
        var activateToo = new Option<bool>("--activate") { Description = "Activate it once accepted" };
        var apply = Verb("apply", "Submit a policy document (validated; a new version if the name exists)", async (c, p) =>
        {
            var path = p.GetValue(file)!;
            var v = await c.PostText($"api/policies?source={Uri.EscapeDataString(Path.GetFileName(path))}", await ReadFile(path), "application/yaml");
            if (p.GetValue(activateToo)) v = await c.Post($"api/policies/{Uri.EscapeDataString(v.GetProperty("name").GetString()!)}/activate?version={v.GetProperty("version")}");
            if (Raw(p, v)) return 0;
            AnsiConsole.MarkupLine($"policy {Esc(v, "name")} version {Esc(v, "version")} accepted{(v.GetProperty("active").GetBoolean() ? " and active" : "")}");
            return 0;
        });
        apply.Options.Add(file);
        apply.Options.Add(activateToo);
        policy.Subcommands.Add(apply);

        policy.Subcommands.Add(Verb("list", "Policies (latest version of each)", async (c, p) =>
        {
            var list = await c.Get("api/policies");
            if (Raw(p, list)) return 0;
            var t = new Table().AddColumns("Policy", "Version", "Balancer", "Automation", "Active", "Submitted");
            foreach (var v in list.EnumerateArray())
                t.AddRow(Esc(v, "name"), Esc(v, "version"), Esc(v, "balancer"), Esc(v, "automation"), v.GetProperty("active").GetBoolean() ? "[green]yes[/]" : "", Esc(v, "submittedAt"));
            AnsiConsole.Write(t);
            return 0;
        }));

        var name = new Argument<string>("name");
        var show = Verb("show", "Every version of a policy", async (c, p) =>
        {
            var list = await c.Get($"api/policies/{Uri.EscapeDataString(p.GetValue(name)!)}");
            if (Raw(p, list)) return 0;
            foreach (var v in list.EnumerateArray())
            {
                AnsiConsole.MarkupLine($"[bold]{Esc(v, "name")} v{Esc(v, "version")}[/]{(v.GetProperty("active").GetBoolean() ? " (active)" : "")}");
                Console.WriteLine(v.GetProperty("text").GetString());
            }
            return 0;
        });
        show.Arguments.Add(name);
        policy.Subcommands.Add(show);

        var activateName = new Argument<string>("name");
        var version = new Option<int?>("--version") { Description = "Version (default: the latest)" };
        var activate = Verb("activate", "Make a policy the active one", async (c, p) =>
        {
            var q = $"api/policies/{Uri.EscapeDataString(p.GetValue(activateName)!)}/activate" + (p.GetValue(version) is { } n ? $"?version={n}" : "");
            var v = await c.Post(q);
            if (Raw(p, v)) return 0;
            AnsiConsole.MarkupLine($"policy {Esc(v, "name")} version {Esc(v, "version")} is active");
            return 0;
        });
        activate.Arguments.Add(activateName);
        activate.Options.Add(version);
        policy.Subcommands.Add(activate);
        return policy;
    }
}
