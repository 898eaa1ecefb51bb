using System.CommandLine;
using Spectre.Console;

namespace KvmCluster.Silo.Cli;

/// <summary>`kvmcluster token create|list|revoke`: the cluster's API tokens and their roles (admin).</summary>
public static class TokenCommands
{
    public static Command Create()
    {
        var cmd = new Command("token", "Make, list and revoke API tokens (viewer, operator, admin); needs an admin token");

        var name = new Argument<string>("name") { Description = "The token's name (recorded as the actor of what it does)" };
        var role = new Option<string>("--role") { Description = "viewer (reads), operator (guests, migrations, plans) or admin (policies, hosts, power, tokens)", Required = true };
        role.AcceptOnlyFromAmong("viewer", "operator", "admin");
        var create = ClusterCommands.Verb("create", "Make a token; its secret is printed once", async (c, p) =>
        {
            var made = await c.Post("api/tokens", new { name = p.GetValue(name), role = p.GetValue(role) });
            if (ClusterCommands.Raw(p, made)) return 0;
            AnsiConsole.MarkupLine($"token {ClusterCommands.Esc(made, "name")} ({ClusterCommands.Esc(made, "role")}): store it now, it is not shown again");
            Console.WriteLine(made.GetProperty("token").GetString());
            return 0;
        });
        create.Arguments.Add(name);
        create.Options.Add(role);

        var list = ClusterCommands.Verb("list", "List tokens: names, roles, who made them, when revoked", async (c, p) =>
        {
            var tokens = await c.Get("api/tokens");
            if (ClusterCommands.Raw(p, tokens)) return 0;
            var t = new Table().AddColumns("Name", "Role", "Created", "By", "Revoked");
            foreach (var k in tokens.EnumerateArray())
                t.AddRow(ClusterCommands.Esc(k, "name"), ClusterCommands.Esc(k, "role"), ClusterCommands.Esc(k, "createdAt"), ClusterCommands.Esc(k, "createdBy"), ClusterCommands.Esc(k, "revokedAt"));
            AnsiConsole.Write(t);
            return 0;
        });

        var revokeName = new Argument<string>("name") { Description = "The token to revoke (refused at once on this silo, within 2 s on the others)" };
        var revoke = ClusterCommands.Verb("revoke", "Revoke a token", async (c, p) =>
        {
            var revoked = await c.Delete($"api/tokens/{Uri.EscapeDataString(p.GetValue(revokeName)!)}");
            if (ClusterCommands.Raw(p, revoked)) return 0;
            AnsiConsole.MarkupLine($"revoked {ClusterCommands.Esc(revoked, "name")}");
            return 0;
        });
        revoke.Arguments.Add(revokeName);

        cmd.Subcommands.Add(create);
        cmd.Subcommands.Add(list);
        cmd.Subcommands.Add(revoke);
        return cmd;
    }
}
