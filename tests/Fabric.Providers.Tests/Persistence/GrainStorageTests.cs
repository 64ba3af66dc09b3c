using System.Net;
using Azure.Data.Tables;
using Fabric.Addressing;
using Fabric.Providers.Tests.Infrastructure;
using Fabric.Silo.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Storage;

namespace Fabric.Providers.Tests.Persistence;

/// <summary>
/// The "fabric" grain storage provider as a cluster-mode silo registers it (Orleans' Azure Table grain
/// storage, configured by <see cref="SiloHostingExtensions.UseFabricTableStorage"/>), taken from a
/// running silo and driven directly: ETag concurrency, clearing, sizes.
/// </summary>
[Collection(TableClusterCollection.Name)]
[Trait("Category", "Storage")]
public sealed class GrainStorageTests(TableClusterFixture fixture)
{
    private const string StateName = "state";

    private IGrainStorage Storage => fixture.Cluster
        .GetSiloServiceProvider(fixture.Cluster.GetActiveSilos().First().SiloAddress)
        .GetRequiredKeyedService<IGrainStorage>(FabricStorage.ProviderName);

    [Fact]
    public async Task Reading_a_grain_never_written_gives_a_default_state_and_no_record()
    {
        var state = new GrainState<TestState>(new TestState { Counter = 99 });

        await Storage.ReadStateAsync(StateName, NewGrainId(), state);

        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.Equal(0, state.State!.Counter);
    }

    [Fact]
    public async Task Written_state_with_addresses_reads_back_with_its_etag_from_the_configured_grain_table()
    {
        var grainId = NewGrainId();
        var written = new GrainState<TestState>(new TestState
        {
            Text = "hello",
            Counter = 7,
            Locations = { [new MacAddress(0x02_00_00_00_00_01)] = IPAddress.Parse("10.1.0.1"), [MacAddress.Broadcast] = IPAddress.IPv6Loopback },
        });

        await Storage.WriteStateAsync(StateName, grainId, written);
        var read = await ReadAsync(StateName, grainId);

        Assert.True(written.RecordExists);
        Assert.NotNull(written.ETag);
        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal("hello", read.State!.Text);
        Assert.Equal(7, read.State!.Counter);
        Assert.Equal(IPAddress.Parse("10.1.0.1"), read.State!.Locations[new MacAddress(0x02_00_00_00_00_01)]);
        Assert.Equal(IPAddress.IPv6Loopback, read.State!.Locations[MacAddress.Broadcast]);

        // In the table named by Fabric:Storage:GrainTableName, binary (Orleans' serializer), not JSON text.
        var rows = new List<TableEntity>();
        await foreach (var row in fixture.Table(fixture.GrainTable).QueryAsync<TableEntity>(e => e.RowKey == StateName))
        {
            rows.Add(row);
        }

        var stored = Assert.Single(rows, r => r.PartitionKey.EndsWith(grainId.Key.ToString()!, StringComparison.Ordinal));
        Assert.NotNull(stored.GetBinary("Data"));
        Assert.False(stored.ContainsKey("StringData"));
    }

    [Fact]
    public async Task Each_state_name_of_a_grain_is_stored_separately()
    {
        var grainId = NewGrainId();
        await Storage.WriteStateAsync("a", grainId, new GrainState<TestState>(new TestState { Counter = 1 }));
        await Storage.WriteStateAsync("b", grainId, new GrainState<TestState>(new TestState { Counter = 2 }));

        Assert.Equal(1, (await ReadAsync("a", grainId)).State!.Counter);
        Assert.Equal(2, (await ReadAsync("b", grainId)).State!.Counter);
    }

    [Theory]
    [InlineData("switch", "dvs.prod-1_a")]
    [InlineData("segment", "16777215")]
    [InlineData("host", "h-1.rack_2")]
    public async Task Grain_ids_shaped_like_fabric_names_round_trip(string type, string name)
    {
        // FabricNames allows [A-Za-z0-9._-]; the provider's key sanitizing only touches / \ # ?.
        var grainId = GrainId.Create(type, name + "-" + Guid.NewGuid().ToString("N")[..8]);

        await Storage.WriteStateAsync(StateName, grainId, new GrainState<TestState>(new TestState { Text = name }));

        Assert.Equal(name, (await ReadAsync(StateName, grainId)).State!.Text);
    }

    [Fact]
    public async Task A_write_with_a_stale_etag_is_rejected_and_leaves_the_stored_value_unchanged()
    {
        var grainId = NewGrainId();
        var first = new GrainState<TestState>(new TestState { Counter = 1 });
        await Storage.WriteStateAsync(StateName, grainId, first);
        var staleEtag = first.ETag;
        first.State!.Counter = 2;
        await Storage.WriteStateAsync(StateName, grainId, first);

        var stale = new GrainState<TestState>(new TestState { Counter = 666 }) { ETag = staleEtag, RecordExists = true };
        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => Storage.WriteStateAsync(StateName, grainId, stale));

        var read = await ReadAsync(StateName, grainId);
        Assert.Equal(2, read.State!.Counter);
        Assert.Equal(first.ETag, read.ETag);
    }

    [Fact]
    public async Task Of_concurrent_writes_from_the_same_etag_exactly_one_wins()
    {
        var grainId = NewGrainId();
        var original = new GrainState<TestState>(new TestState { Counter = 1 });
        await Storage.WriteStateAsync(StateName, grainId, original);

        // Eight writers that all read the same version, as two activations of one grain would.
        var writers = Enumerable.Range(100, 8)
            .Select(counter => new GrainState<TestState>(new TestState { Counter = counter }) { ETag = original.ETag, RecordExists = true })
            .ToArray();
        var outcomes = await Task.WhenAll(writers.Select(async writer =>
        {
            try
            {
                await Storage.WriteStateAsync(StateName, grainId, writer);
                return (Writer: writer, Error: (Exception?)null);
            }
            catch (InconsistentStateException exception)
            {
                return (Writer: writer, Error: exception);
            }
        }));

        var winner = Assert.Single(outcomes, o => o.Error is null).Writer;
        Assert.Equal(writers.Length - 1, outcomes.Count(o => o.Error is InconsistentStateException));
        var read = await ReadAsync(StateName, grainId);
        Assert.Equal(winner.State!.Counter, read.State!.Counter);
        Assert.Equal(winner.ETag, read.ETag);
    }

    [Fact]
    public async Task A_first_write_over_a_row_someone_else_created_is_rejected()
    {
        var grainId = NewGrainId();
        await Storage.WriteStateAsync(StateName, grainId, new GrainState<TestState>(new TestState { Counter = 1 }));

        var unaware = new GrainState<TestState>(new TestState { Counter = 666 });
        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => Storage.WriteStateAsync(StateName, grainId, unaware));

        Assert.Equal(1, (await ReadAsync(StateName, grainId)).State!.Counter);
    }

    [Fact]
    public async Task Clear_removes_the_record_and_resets_the_etag()
    {
        var grainId = NewGrainId();
        var state = new GrainState<TestState>(new TestState { Counter = 5 });
        await Storage.WriteStateAsync(StateName, grainId, state);

        await Storage.ClearStateAsync(StateName, grainId, state);

        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.Equal(0, state.State!.Counter);
        var read = await ReadAsync(StateName, grainId);
        Assert.False(read.RecordExists);
        Assert.Null(read.ETag);

        // The grain can write again after a clear.
        state.State!.Counter = 6;
        await Storage.WriteStateAsync(StateName, grainId, state);
        Assert.Equal(6, (await ReadAsync(StateName, grainId)).State!.Counter);
    }

    [Fact]
    public async Task Clear_with_a_stale_etag_is_rejected_and_keeps_the_record()
    {
        var grainId = NewGrainId();
        var state = new GrainState<TestState>(new TestState { Counter = 1 });
        await Storage.WriteStateAsync(StateName, grainId, state);
        var staleEtag = state.ETag;
        await Storage.WriteStateAsync(StateName, grainId, state);

        var stale = new GrainState<TestState>(new TestState()) { ETag = staleEtag, RecordExists = true };
        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => Storage.ClearStateAsync(StateName, grainId, stale));

        Assert.True((await ReadAsync(StateName, grainId)).RecordExists);
    }

    [Fact]
    public async Task State_larger_than_one_table_property_round_trips()
    {
        var grainId = NewGrainId();
        var blob = new byte[900 * 1024];
        new Random(42).NextBytes(blob);

        await Storage.WriteStateAsync(StateName, grainId, new GrainState<TestState>(new TestState { Blob = blob }));

        Assert.Equal(blob, (await ReadAsync(StateName, grainId)).State!.Blob);
    }

    [Fact]
    public async Task State_too_large_for_an_entity_is_rejected_with_its_size_and_nothing_is_written()
    {
        var grainId = NewGrainId();
        var existing = new GrainState<TestState>(new TestState { Counter = 1 });
        await Storage.WriteStateAsync(StateName, grainId, existing);

        existing.State!.Blob = new byte[2 * 1024 * 1024];
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Storage.WriteStateAsync(StateName, grainId, existing));

        Assert.Contains("Data too large to write to Azure table", error.Message);
        Assert.Contains("MaxSize=983040", error.Message);
        var read = await ReadAsync(StateName, grainId);
        Assert.Equal(1, read.State!.Counter);
        Assert.Empty(read.State!.Blob);
    }

    private async Task<GrainState<TestState>> ReadAsync(string stateName, GrainId grainId)
    {
        var state = new GrainState<TestState>(new TestState());
        await Storage.ReadStateAsync(stateName, grainId, state);
        return state;
    }

    private static GrainId NewGrainId() => GrainId.Create("test", Guid.NewGuid().ToString("N"));
}
