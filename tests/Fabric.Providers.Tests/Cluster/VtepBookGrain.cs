using System.Net;
using Fabric.Addressing;

namespace Fabric.Providers.Tests.Cluster;

/// <summary>
/// State shaped like the fabric's own (IPAddress values, a dictionary keyed by <see cref="MacAddress"/>):
/// what a JSON grain storage serializer cannot read back, so it guards the choice of serializer.
/// </summary>
[Alias("Fabric.Providers.Tests.IVtepBookGrain")]
public interface IVtepBookGrain : IGrainWithStringKey
{
    [Alias("Add")] Task<int> AddAsync(string host, IPAddress vtep, MacAddress mac);
    [Alias("Get")] Task<VtepBookState> GetAsync();
    [Alias("Deactivate")] Task DeactivateAsync();
}

[GenerateSerializer, Alias("Fabric.Providers.Tests.VtepBookState")]
public sealed class VtepBookState
{
    [Id(0)] public Dictionary<string, IPAddress> Vteps { get; set; } = [];

    [Id(1)] public IPAddress? Last { get; set; }

    [Id(2)] public Dictionary<MacAddress, IPAddress> Macs { get; set; } = [];

    [Id(3)] public int Writes { get; set; }
}

/// <summary>Keeps its state in the "fabric" provider, as every Fabric grain does.</summary>
public sealed class VtepBookGrain([PersistentState("vteps", "fabric")] IPersistentState<VtepBookState> book) : Grain, IVtepBookGrain
{
    public async Task<int> AddAsync(string host, IPAddress vtep, MacAddress mac)
    {
        book.State.Vteps[host] = vtep;
        book.State.Macs[mac] = vtep;
        book.State.Last = vtep;
        book.State.Writes++;
        await book.WriteStateAsync();
        return book.State.Writes;
    }

    public Task<VtepBookState> GetAsync() => Task.FromResult(book.State);

    public Task DeactivateAsync()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}
