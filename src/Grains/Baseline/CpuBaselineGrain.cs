using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Events;
using KvmCluster.Grains.Ports;

namespace KvmCluster.Grains.Baseline;

[GenerateSerializer, Alias("kvm.CpuBaselineState")]
public sealed class CpuBaselineState
{
    [Id(0)] public string? Model { get; set; }
}

/// <summary>The cluster's CPU baseline setting (one per cluster), kept across restarts; changes are in the event log.</summary>
public sealed class CpuBaselineGrain(
    [PersistentState("baseline", StorageNames.Store)] IPersistentState<CpuBaselineState> state,
    FleetClock clock) : Grain, ICpuBaselineGrain
{
    public Task<string?> Get() => Task.FromResult(state.State.Model);

    public async Task<string?> Set(string? model, string actor)
    {
        if (CpuBaselines.Problem(model) is { } problem) throw ClusterException.Invalid(problem, "model");
        state.State.Model = model;
        await state.WriteStateAsync();
        await GrainFactory.Record(Events.Events.New(clock.Now, "cpu-baseline", Cluster.Key,
            model is null ? $"CPU baseline cleared by {actor}" : $"CPU baseline set to {model} by {actor}: new guests with the default CPU get it", [$"actor {actor}"]));
        await GrainFactory.GetGrain<ISchedulerGrain>(Cluster.Key).BaselineChanged();
        return model;
    }
}
