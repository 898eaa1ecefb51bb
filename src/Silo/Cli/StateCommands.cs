using System.CommandLine;
using System.Text.Json;
using Spectre.Console;

namespace KvmCluster.Silo.Cli;

/// <summary>
/// `kvmcluster state export|import`: the fleet's state (policies, guest records, plans, host settings, tokens' hashes,
/// events, migration records) as one JSON document, to back up, read or move a cluster (admin).
/// </summary>
public static class StateCommands
{
    public static Command Create()
    {
        var cmd = new Command("state", "Export the cluster's state as one JSON document, or import one into a new cluster; needs an admin token");

        var output = new Option<string?>("-o", "--out") { Description = "Write the document here (created 0600: it holds token hashes) instead of to standard output" };
        var export = ClusterCommands.Verb("export", "Export policies, guest records, plans, host settings, tokens (hashes), events and migration records", async (c, p) =>
        {
            var document = await c.Get("api/state");
            var text = JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true });
            if (p.GetValue(output) is not { } file)
            {
                Console.WriteLine(text);
                return 0;
            }
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                await using (var stream = new FileStream(file, options))
                await using (var writer = new StreamWriter(stream)) await writer.WriteLineAsync(text);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new Hosting.UsageException($"{file}: {e.Message}");
            }
            AnsiConsole.MarkupLine($"exported to {Markup.Escape(file)}: {Count(document, "policies")} policy versions, {Count(document, "guests")} guests, "
                + $"{Count(document, "plans")} plans, {Count(document, "tokens")} tokens, {Count(document, "events")} events, {Count(document, "migrations")} migrations");
            foreach (var note in document.GetProperty("notes").EnumerateArray()) AnsiConsole.MarkupLine($"  [yellow]note[/] {Markup.Escape(note.GetString() ?? "")}");
            return 0;
        });
        export.Options.Add(output);

        var input = new Option<string>("-f", "--file") { Description = "A document `state export` wrote", Required = true };
        var import = ClusterCommands.Verb("import", "Restore an exported document into a cluster without policies or tokens", async (c, p) =>
        {
            var imported = await c.PostText("api/state", await ClusterCommands.ReadFile(p.GetValue(input)!), "application/json");
            if (ClusterCommands.Raw(p, imported)) return 0;
            AnsiConsole.MarkupLine($"imported {imported.GetProperty("policies")} policy versions, {imported.GetProperty("guests")} guests, {imported.GetProperty("plans")} plans, "
                + $"{imported.GetProperty("hosts")} hosts' settings, {imported.GetProperty("tokens")} tokens, {imported.GetProperty("events")} events");
            foreach (var note in imported.GetProperty("notes").EnumerateArray()) AnsiConsole.MarkupLine($"  [yellow]note[/] {Markup.Escape(note.GetString() ?? "")}");
            return 0;
        });
        import.Options.Add(input);

        cmd.Subcommands.Add(export);
        cmd.Subcommands.Add(import);
        return cmd;
    }

    private static int Count(JsonElement document, string property) =>
        document.TryGetProperty(property, out var list) && list.ValueKind == JsonValueKind.Array ? list.GetArrayLength() : 0;
}
