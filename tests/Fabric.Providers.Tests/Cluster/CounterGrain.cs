namespace Fabric.Providers.Tests.Cluster;

[Alias("Fabric.Providers.Tests.ICounterGrain")]
public interface ICounterGrain : IGrainWithStringKey
{
    [Alias("Increment")] Task<int> IncrementAsync();
    [Alias("Get")] Task<int> GetAsync();
    [Alias("Deactivate")] Task DeactivateAsync();
}

[GenerateSerializer, Alias("Fabric.Providers.Tests.CounterState")]
public sealed class CounterState
{
    [Id(0)] public int Count { get; set; }
}

/// <summary>A trivial grain whose state lives in the "fabric" Table storage provider.</summary>
public sealed class CounterGrain([PersistentState("counter", "fabric")] IPersistentState<CounterState> counter) : Grain, ICounterGrain
{
    public async Task<int> IncrementAsync()
    {
        counter.State.Count++;
        await counter.WriteStateAsync();
        return counter.State.Count;
    }

    public Task<int> GetAsync() => Task.FromResult(counter.State.Count);

    public Task DeactivateAsync()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}
