using System.Net;

namespace Fabric.Providers.Tests.Cluster;

/// <summary>
/// State shaped like the fabric's own (IPAddress values, a dictionary of them): what a JSON grain
/// storage serializer cannot read back, so it guards the provider's choice of serializer.
/// </summary>
[Alias("Fabric.Providers.Tests.IVtepBookGrain")]
public interface IVtepBookGrain : IGrainWithStringKey
{
    [Alias("Add")] Task AddAsync(string host, IPAddress vtep);
    [Alias("Get")] Task<IReadOnlyDictionary<string, IPAddress>> GetAsync();
    [Alias("Deactivate")] Task DeactivateAsync();
}

[GenerateSerializer, Alias("Fabric.Providers.Tests.VtepBookState")]
public sealed class VtepBookState
{
    [Id(0)] public Dictionary<string, IPAddress> Vteps { get; set; } = [];

    [Id(1)] public IPAddress? Last { get; set; }
}

public sealed class VtepBookGrain([PersistentState("vteps", "fabric")] IPersistentState<VtepBookState> book) : Grain, IVtepBookGrain
{
    public async Task AddAsync(string host, IPAddress vtep)
    {
        book.State.Vteps[host] = vtep;
        book.State.Last = vtep;
        await book.WriteStateAsync();
    }

    public Task<IReadOnlyDictionary<string, IPAddress>> GetAsync() => Task.FromResult<IReadOnlyDictionary<string, IPAddress>>(book.State.Vteps);

    public Task DeactivateAsync()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}
