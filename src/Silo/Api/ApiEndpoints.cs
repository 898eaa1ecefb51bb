using System.Text.Json;
using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Migrations;
using KvmCluster.Grains.Serialization;
using KvmCluster.Policies.Model;

namespace KvmCluster.Silo.Api;

/// <param name="Force">Go past the policy's concurrency limits (recorded in the migration's reasons and the event log).</param>
/// <param name="Offline">Cold: the guest is paused for the whole move, its non-shared disks copied whatever the policy says of live block migration (needs <paramref name="To"/>).</param>
/// <param name="Shutdown">With <paramref name="Offline"/>: shut the guest down (ACPI; destroyed after the timeout when forced) and start it on the destination — for guests that cannot move even paused (passed-through devices); their disks must be shared.</param>
public sealed record MigrateRequest(string Guest, string? To = null, bool Force = false, bool Offline = false, bool Shutdown = false, int? TimeoutSeconds = null);
public sealed record MaintenanceRequest(bool On);
/// <param name="Model">A QEMU CPU model every host should offer (Skylake-Server, EPYC-Rome).</param>
public sealed record BaselineRequest(string Model);
/// <param name="Command">One HMP command line, e.g. "info block" (QEMU's human monitor).</param>
public sealed record MonitorRequest(string Command);
public sealed record MonitorOutput(string Guest, string Host, string Command, string Output);
/// <param name="Host">Start on this host (it must pass every constraint); null: where the active policy places it.</param>
public sealed record StartRequest(string? Host = null);
/// <param name="TimeoutSeconds">How long the guest has to power itself off after the ACPI power button (default 60, at most 600).</param>
/// <param name="Force">Destroy it when it has not powered off by then.</param>
public sealed record ShutdownRequest(int? TimeoutSeconds = null, bool Force = false);
public sealed record TokenRequest(string Name, string Role);
/// <param name="Token">The secret: shown this once.</param>
public sealed record TokenCreated(string Name, string Role, string Token);
public sealed record SiloView(string Name, string Address, string Status);
public sealed record ClusterView(string Scheduler, IReadOnlyList<SiloView> Silos);

/// <summary>A body in a format the endpoint does not read: 415.</summary>
public sealed class UnsupportedMediaType(string message) : Exception(message);

/// <summary>The REST API every silo serves. Reads are open on the bound address; every change needs the bearer token.</summary>
public static class ApiEndpoints
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    public static void MapKvmApi(this WebApplication app)
    {
        var api = app.MapGroup("/api");
        ISchedulerGrain Scheduler(IGrainFactory g) => g.GetGrain<ISchedulerGrain>(Cluster.Key);
        IPolicyGrain Policies(IGrainFactory g) => g.GetGrain<IPolicyGrain>(Cluster.Key);

        // Who is in the cluster and where the scheduler runs (as `pvecm status` and the HA manager's master say).
        api.MapGet("/cluster", async (IGrainFactory g, Orleans.Runtime.IClusterMembershipService membership) => new ClusterView(
            await Scheduler(g).Silo().WaitAsync(CallTimeout),
            [.. membership.CurrentSnapshot.Members.Values.OrderBy(m => m.Name, StringComparer.Ordinal)
                .Select(m => new SiloView(m.Name, m.SiloAddress.ToString(), m.Status.ToString().ToLowerInvariant()))]));
        api.MapGet("/hosts", async (IGrainFactory g) => await Scheduler(g).Hosts().WaitAsync(CallTimeout));
        api.MapGet("/hosts/{name}", async (string name, IGrainFactory g) =>
            (await Scheduler(g).Hosts().WaitAsync(CallTimeout)).FirstOrDefault(h => h.Name == name) is { } h ? Results.Ok(h)
            : Problems.For(ClusterException.NotFound($"no host named '{name}'")));
        api.MapPost("/hosts/{name}/maintenance", async (string name, HttpRequest request, IGrainFactory g) =>
        {
            var body = await Read<MaintenanceRequest>(request);
            return Results.Ok(await Scheduler(g).SetMaintenance(name, body.On).WaitAsync(CallTimeout));
        });

        api.MapPost("/hosts/{name}/labels", async (string name, HttpRequest request, IGrainFactory g) =>
        {
            var change = await Read<LabelChange>(request);
            foreach (var (field, message) in change.Problems()) return Problems.BadBody(message, field);
            return Results.Ok(await Scheduler(g).SetLabels(name, change).WaitAsync(CallTimeout));
        });

        api.MapPost("/hosts/{name}/tuning", async (string name, HttpRequest request, IGrainFactory g) =>
        {
            var tuning = await Read<HostTuning>(request);
            foreach (var (field, message) in tuning.Problems()) return Problems.BadBody(message, field);
            if (!(await Scheduler(g).Hosts().WaitAsync(CallTimeout)).Any(h => h.Name == name && h.Reachable)) throw ClusterException.NotFound($"no reachable host named '{name}'");
            return Results.Ok(await g.GetGrain<IHostGrain>(name).Tune(tuning).WaitAsync(CallTimeout));
        });

        api.MapGet("/guests", async (IGrainFactory g) => await Scheduler(g).Guests().WaitAsync(CallTimeout));
        api.MapGet("/guests/{name}", async (string name, IGrainFactory g) =>
            (await Scheduler(g).Guests().WaitAsync(CallTimeout)).FirstOrDefault(x => x.Name == name) is { } v ? Results.Ok(v)
            : await Grains.Guests.GuestDirectory.Contains(g, name) && await g.GetGrain<IGuestGrain>(name).Get() is { } known ? Results.Ok(known)
            : Problems.For(ClusterException.NotFound($"no guest named '{name}'")));
        api.MapGet("/guests/{name}/history", async (string name, IGrainFactory g) =>
            await Grains.Guests.GuestDirectory.Contains(g, name) ? Results.Ok(await g.GetGrain<IGuestGrain>(name).History())
            : Problems.For(ClusterException.NotFound($"no guest named '{name}'")));
        api.MapPost("/guests", async (HttpRequest request, IGrainFactory g) =>
        {
            var guest = await Read<Guest>(request);
            var placed = await Scheduler(g).Place(guest).WaitAsync(CallTimeout);
            return Results.Created($"/api/guests/{placed.Guest}", placed);
        }).Requires(Role.Operator);

        // The life cycle, as virsh has it: define/edit (PUT), start, shutdown, destroy, restart, undefine (DELETE).
        api.MapPut("/guests/{name}", async (string name, HttpRequest request, IGrainFactory g) =>
        {
            var spec = await Read<Guest>(request);
            if (spec.Name != name) return Problems.BadBody($"the spec's name '{spec.Name}' is not the guest '{name}' of the URL", "name");
            var existed = await Grains.Guests.GuestDirectory.Contains(g, name);
            var view = await Scheduler(g).DefineGuest(spec).WaitAsync(CallTimeout);
            return existed ? Results.Ok(view) : Results.Created($"/api/guests/{name}", view);
        }).Requires(Role.Operator);
        api.MapPost("/guests/{name}/start", async (string name, HttpRequest request, IGrainFactory g) =>
        {
            var body = !HasBody(request) ? new StartRequest() : await Read<StartRequest>(request);
            return Results.Ok(await Scheduler(g).StartGuest(name, string.IsNullOrWhiteSpace(body.Host) ? null : body.Host).WaitAsync(CallTimeout));
        }).Requires(Role.Operator);
        api.MapPost("/guests/{name}/shutdown", async (string name, HttpRequest request, IGrainFactory g) =>
        {
            var body = !HasBody(request) ? new ShutdownRequest() : await Read<ShutdownRequest>(request);
            if (Timeout(body) is not { } timeout) return Problems.BadBody("timeoutSeconds must be 1..600", "timeoutSeconds");
            return Results.Ok(await Grains.Guests.GuestShutdown.RunAsync(g, name, timeout, body.Force, request.HttpContext.RequestAborted));
        }).Requires(Role.Operator);
        api.MapPost("/guests/{name}/restart", async (string name, HttpRequest request, IGrainFactory g) =>
        {
            var body = !HasBody(request) ? new ShutdownRequest() : await Read<ShutdownRequest>(request);
            if (Timeout(body) is not { } timeout) return Problems.BadBody("timeoutSeconds must be 1..600", "timeoutSeconds");
            var down = await Grains.Guests.GuestShutdown.RunAsync(g, name, timeout, body.Force, request.HttpContext.RequestAborted);
            return Results.Ok(await Scheduler(g).StartGuest(name, down.Host).WaitAsync(CallTimeout));
        }).Requires(Role.Operator);
        api.MapPost("/guests/{name}/destroy", async (string name, IGrainFactory g) =>
            await Scheduler(g).DestroyGuest(name).WaitAsync(CallTimeout)).Requires(Role.Operator);
        api.MapDelete("/guests/{name}", async (string name, bool? removeDisks, IGrainFactory g) =>
            await Scheduler(g).UndefineGuest(name, removeDisks ?? false).WaitAsync(CallTimeout)).Requires(Role.Operator);

        // The cluster's CPU baseline (EVC-like): shown to anyone who may read, set by admins.
        api.MapGet("/baseline", async (IGrainFactory g) => await Scheduler(g).Baseline().WaitAsync(CallTimeout));
        api.MapPut("/baseline", async (HttpRequest request, IGrainFactory g) =>
        {
            var body = await Read<BaselineRequest>(request);
            if (string.IsNullOrWhiteSpace(body.Model)) return Problems.BadBody("'model' is required", "model");
            await g.GetGrain<ICpuBaselineGrain>(Cluster.Key).Set(body.Model, AccessGuard.CallerOf(request.HttpContext)?.Name ?? "anonymous");
            return Results.Ok(await Scheduler(g).Baseline().WaitAsync(CallTimeout));
        }).Requires(Role.Admin);
        api.MapDelete("/baseline", async (HttpContext context, IGrainFactory g) =>
        {
            await g.GetGrain<ICpuBaselineGrain>(Cluster.Key).Set(null, AccessGuard.CallerOf(context)?.Name ?? "anonymous");
            return Results.Ok(await Scheduler(g).Baseline().WaitAsync(CallTimeout));
        }).Requires(Role.Admin);

        // The serial console: its log from whichever host runs the guest (or last ran it), and an interactive session
        // over a WebSocket, one writer at a time, behind the token like every change.
        api.MapGet("/guests/{name}/console/log", async (string name, int? bytes, IGrainFactory g) =>
        {
            var host = (await Scheduler(g).Guests().WaitAsync(CallTimeout)).FirstOrDefault(x => x.Name == name)?.Host
                ?? throw ClusterException.NotFound($"no guest named '{name}' with a host");
            var log = await g.GetGrain<IHostGrain>(host).SerialLog(name, bytes ?? 64 * 1024).WaitAsync(CallTimeout);
            return log is null ? Problems.For(ClusterException.NotFound($"host {host} has no serial log of guest '{name}'")) : Results.Text(log, "text/plain; charset=utf-8");
        }).Requires(Role.Operator);
        api.MapGet("/guests/{name}/console", async (string name, HttpContext context, IGrainFactory g) =>
        {
            if (!context.WebSockets.IsWebSocketRequest) return Problems.BadBody("the console is a WebSocket: connect with ws:// (kvmcluster console NAME)", "upgrade");
            var guest = (await Scheduler(g).Guests().WaitAsync(CallTimeout)).FirstOrDefault(x => x.Name == name && x.Status is GuestStatus.Running or GuestStatus.Paused)
                ?? throw ClusterException.NotFound($"no running guest named '{name}'");
            var host = g.GetGrain<IHostGrain>(guest.Host!);
            var session = Guid.NewGuid().ToString("N");
            var from = await host.ConsoleAttach(name, session, AccessGuard.CallerOf(context)?.Name ?? "anonymous");
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            await GuestConsole.RelayAsync(socket, host, name, session, from, context.RequestAborted);
            return Results.Empty;
        }).Requires(Role.Operator);

        // The monitor can do anything to a guest: admins only, and on record (the event log names the caller).
        api.MapPost("/guests/{name}/monitor", async (string name, HttpRequest request, IGrainFactory g) =>
        {
            var body = await Read<MonitorRequest>(request);
            if (MonitorCommand.Problem(body.Command) is { } problem) return Problems.BadBody(problem, "command");
            var guest = (await Scheduler(g).Guests().WaitAsync(CallTimeout)).FirstOrDefault(x => x.Name == name && x.Status is GuestStatus.Running or GuestStatus.Paused)
                ?? throw ClusterException.NotFound($"no running guest named '{name}'");
            var actor = AccessGuard.CallerOf(request.HttpContext)?.Name ?? "anonymous";
            var output = await g.GetGrain<IHostGrain>(guest.Host!).Monitor(name, body.Command, actor).WaitAsync(TimeSpan.FromSeconds(90));
            return Results.Ok(new MonitorOutput(name, guest.Host!, body.Command, output));
        }).Requires(Role.Admin);

        api.MapPost("/guests/{name}/actions", async (string name, HttpRequest request, IGrainFactory g) =>
        {
            var control = await Read<GuestControl>(request);
            foreach (var (field, message) in control.Problems()) return Problems.BadBody(message, field);
            // Straight to the guest's host: a snapshot may take a minute and must not hold up the scheduler.
            var guest = (await Scheduler(g).Guests().WaitAsync(CallTimeout)).FirstOrDefault(x => x.Name == name)
                ?? throw ClusterException.NotFound($"no running guest named '{name}'");
            if (guest.Status == GuestStatus.Unreachable) throw ClusterException.Unavailable($"guest '{name}' is on {guest.Host}, which is unreachable");
            return Results.Ok(await g.GetGrain<IHostGrain>(guest.Host!).Control(name, control).WaitAsync(TimeSpan.FromSeconds(90)));
        }).Requires(Role.Operator);

        api.MapGet("/policies", async (IGrainFactory g) => await Policies(g).List());
        api.MapGet("/policies/active", async (IGrainFactory g) => await Policies(g).Active() is { } p ? Results.Ok(p) : Problems.For(ClusterException.NotFound("no policy is active")));
        api.MapGet("/policies/{name}", async (string name, IGrainFactory g) => await Policies(g).Show(name));
        api.MapPost("/policies", async (HttpRequest request, IGrainFactory g, string? source) =>
        {
            if (!ApiJson.IsYaml(request)) throw new UnsupportedMediaType($"a policy is a YAML document (Content-Type: application/yaml), not '{request.ContentType ?? "none"}'");
            using var reader = new StreamReader(request.Body);
            var text = await reader.ReadToEndAsync();
            if (string.IsNullOrWhiteSpace(text)) return Problems.BadBody("the request body must be a policy document (YAML)", null);
            var v = await Policies(g).Submit(text, string.IsNullOrWhiteSpace(source) ? "request" : Path.GetFileName(source));
            return Results.Created($"/api/policies/{v.Name}", v);
        });
        api.MapPost("/policies/{name}/activate", async (string name, int? version, IGrainFactory g) => await Policies(g).Activate(name, version));

        api.MapGet("/plans", async (IGrainFactory g) => await Scheduler(g).Plans());
        api.MapPost("/plans", async (IGrainFactory g) => await Scheduler(g).Preview().WaitAsync(CallTimeout)).Requires(Role.Operator);
        api.MapGet("/plans/{id}", async (string id, IGrainFactory g) => await Scheduler(g).Plan(id));
        api.MapPost("/plans/{id}/approve", async (string id, IGrainFactory g) => await Scheduler(g).Approve(id)).Requires(Role.Operator);
        api.MapPost("/plans/{id}/execute", async (string id, IGrainFactory g) => await Scheduler(g).Execute(id).WaitAsync(CallTimeout)).Requires(Role.Operator);
        api.MapPost("/plans/{id}/cancel", async (string id, IGrainFactory g) => await Scheduler(g).CancelPlan(id)).Requires(Role.Operator);

        api.MapPost("/migrations", async (HttpRequest request, IGrainFactory g) =>
        {
            var body = await Read<MigrateRequest>(request);
            if (string.IsNullOrWhiteSpace(body.Guest)) return Problems.BadBody("'guest' is required", "guest");
            if (body.Offline && string.IsNullOrWhiteSpace(body.To)) return Problems.BadBody("an offline migration needs its destination ('to')", "to");
            if (body.Shutdown && !body.Offline) return Problems.BadBody("shutdown is a kind of offline migration: give offline too", "shutdown");
            if (body.Shutdown)
            {
                // Shut down here, started there: nothing of the running guest moves, so its disks must be on shared storage.
                var record = await g.GetGrain<IGuestGrain>(body.Guest).Get() ?? throw ClusterException.NotFound($"no guest named '{body.Guest}'");
                if (record.Spec.CopiesDisksOnMigration)
                    throw ClusterException.Conflict($"guest '{body.Guest}' has local or overlay disks, which cannot be copied while it is shut down: use offline without shutdown (it is paused and its disks copied)");
                if ((await Scheduler(g).Hosts().WaitAsync(CallTimeout)).All(h => h.Name != body.To || !h.Reachable))
                    throw ClusterException.NotFound($"no reachable host named '{body.To}'");
                var timeout = TimeSpan.FromSeconds(body.TimeoutSeconds is >= 1 and <= 600 ? body.TimeoutSeconds.Value : 60);
                await Grains.Guests.GuestShutdown.RunAsync(g, body.Guest, timeout, body.Force, request.HttpContext.RequestAborted);
                return Results.Ok(await Scheduler(g).StartGuest(body.Guest, body.To).WaitAsync(CallTimeout));
            }
            var m = body.Offline
                ? await Scheduler(g).MigrateOffline(body.Guest, body.To!).WaitAsync(CallTimeout)
                : await Scheduler(g).Migrate(body.Guest, string.IsNullOrWhiteSpace(body.To) ? null : body.To, body.Force).WaitAsync(CallTimeout);
            return Results.Accepted($"/api/migrations/{m.Id}", m);
        }).Requires(Role.Operator);
        // The migration index answers for unknown ids: made-up ids activate no migration grain.
        api.MapGet("/migrations/{id}", async (string id, IGrainFactory g) =>
            await MigrationIndex.Contains(g, id) && await g.GetGrain<IMigrationGrain>(id).Get() is { } m ? Results.Ok(m) : Problems.For(ClusterException.NotFound($"no migration {id}")));
        api.MapPost("/migrations/{id}/cancel", async (string id, IGrainFactory g) =>
            await MigrationIndex.Contains(g, id) ? Results.Ok(await g.GetGrain<IMigrationGrain>(id).Cancel()) : Problems.For(ClusterException.NotFound($"no migration {id}"))).Requires(Role.Operator);

        api.MapGet("/events", async (IGrainFactory g, string? subject, string? kind, string? actor, int? limit) =>
            limit is < 1 or > 10_000 ? Problems.BadBody("limit must be 1..10000", "limit")
            : Results.Ok(await g.GetGrain<IEventLogGrain>(Cluster.Key).Query(subject, kind, actor, limit ?? 100)));

        // Tokens (admin): the secret is shown once, when made; the cluster keeps its hash.
        api.MapGet("/tokens", async (IGrainFactory g) => await g.GetGrain<IAccessGrain>(Cluster.Key).List()).Requires(Role.Admin);
        api.MapPost("/tokens", async (HttpRequest request, IGrainFactory g) =>
        {
            var body = await Read<TokenRequest>(request);
            if (GuestName.Problem(body.Name) is { } problem) return Problems.BadBody(problem, "name");
            Role? parsed = body.Role switch { "viewer" => Role.Viewer, "operator" => Role.Operator, "admin" => Role.Admin, _ => null };
            if (parsed is not { } role) return Problems.BadBody($"role '{body.Role}' is not one of viewer, operator, admin", "role");
            var secret = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            var by = AccessGuard.CallerOf(request.HttpContext)?.Name ?? "?";
            var made = await g.GetGrain<IAccessGrain>(Cluster.Key).Create(body.Name, role, Callers.Hash(secret), by);
            return Results.Created($"/api/tokens/{made.Name}", new TokenCreated(made.Name, AccessGuard.Name(made.Role), secret));
        }).Requires(Role.Admin);
        api.MapDelete("/tokens/{name}", async (string name, IGrainFactory g, Callers callers) =>
        {
            var revoked = await g.GetGrain<IAccessGrain>(Cluster.Key).Revoke(name);
            callers.Forget();
            return Results.Ok(revoked);
        }).Requires(Role.Admin);

        MapState(api, Scheduler);
    }

    /// <summary>The largest state document an import reads (a fleet of thousands of guests with their histories).</summary>
    public const long MaxStateBytes = 256L * 1024 * 1024;

    private static void MapState(RouteGroupBuilder api, Func<IGrainFactory, ISchedulerGrain> scheduler)
    {
        // The whole state (admin: it holds token hashes). Read in one turn of the scheduler.
        api.MapGet("/state", async (IGrainFactory g) => await scheduler(g).ExportState().WaitAsync(StateTimeout)).Requires(Role.Admin);
        api.MapPost("/state", async (HttpRequest request, IGrainFactory g) =>
        {
            // This one body may be fleet-sized; every other keeps Kestrel's 1 MiB limit.
            if (request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
                limit.MaxRequestBodySize = MaxStateBytes;
            var document = await Read<FleetStateDocument>(request);
            return Results.Ok(await scheduler(g).ImportState(document).WaitAsync(StateTimeout));
        }).Requires(Role.Admin);
    }

    private static readonly TimeSpan StateTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Whether a request carries a body (a length, or chunks): an optional body may be left out.</summary>
    private static bool HasBody(HttpRequest request) => request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0;

    private static TimeSpan? Timeout(ShutdownRequest r) =>
        r.TimeoutSeconds is null ? Grains.Guests.GuestShutdown.DefaultTimeout
        : r.TimeoutSeconds is >= 1 and <= 600 ? TimeSpan.FromSeconds(r.TimeoutSeconds.Value) : null;

    /// <summary>Reads a JSON body; a malformed one becomes a 400 naming the field.</summary>
    private static async Task<T> Read<T>(HttpRequest request)
    {
        if (!ApiJson.IsJson(request)) throw new UnsupportedMediaType($"the body must be JSON (Content-Type: application/json), not '{request.ContentType ?? "none"}'");
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(request.Body, ApiJson.Options)
                ?? throw ClusterException.Invalid("the request body is empty");
        }
        catch (JsonException e)
        {
            throw ClusterException.Invalid(Problems.Describe(e), Problems.FieldOf(e));
        }
        catch (ArgumentException e)
        {
            throw ClusterException.Invalid(e.Message.Split(" (Parameter")[0], e.ParamName);
        }
    }
}
