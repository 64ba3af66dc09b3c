using Fabric.Providers.AzureTables;
using Fabric.Providers.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Fabric.Providers.Tests.Persistence;

[Collection(AzuriteCollection.Name)]
[Trait("Category", "Storage")]
public sealed class GrainStorageTests(AzuriteFixture azurite) : IAsyncLifetime, IDisposable
{
    private const string StateName = "state";
    private readonly ServiceProvider _services = new ServiceCollection().AddSerializer().BuildServiceProvider();
    private readonly string _providerName = "test" + Guid.NewGuid().ToString("N")[..12];
    private FabricTableGrainStorage _storage = null!;

    public async Task InitializeAsync()
    {
        _storage = CreateStorage(_providerName);
        await _storage.InitializeAsync(CancellationToken.None);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _services.Dispose();

    [Fact]
    public async Task Reading_a_grain_never_written_gives_a_default_state_and_no_record()
    {
        var state = new GrainState<TestState>(new TestState { Counter = 99 });

        await _storage.ReadStateAsync(StateName, NewGrainId(), state);

        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.Equal(0, state.State!.Counter);
    }

    [Fact]
    public async Task Written_state_reads_back_with_its_etag()
    {
        var grainId = NewGrainId();
        var written = new GrainState<TestState>(new TestState { Text = "hello", Counter = 7 });

        await _storage.WriteStateAsync(StateName, grainId, written);
        var read = new GrainState<TestState>(new TestState());
        await _storage.ReadStateAsync(StateName, grainId, read);

        Assert.True(written.RecordExists);
        Assert.NotNull(written.ETag);
        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal("hello", read.State!.Text);
        Assert.Equal(7, read.State!.Counter);
    }

    [Fact]
    public async Task Each_state_name_of_a_grain_is_stored_separately()
    {
        var grainId = NewGrainId();
        await _storage.WriteStateAsync("a", grainId, new GrainState<TestState>(new TestState { Counter = 1 }));
        await _storage.WriteStateAsync("b", grainId, new GrainState<TestState>(new TestState { Counter = 2 }));

        Assert.Equal(1, (await Read("a", grainId)).State!.Counter);
        Assert.Equal(2, (await Read("b", grainId)).State!.Counter);
    }

    [Fact]
    public async Task A_write_with_a_stale_etag_is_rejected_and_leaves_the_stored_value_unchanged()
    {
        var grainId = NewGrainId();
        var first = new GrainState<TestState>(new TestState { Counter = 1 });
        await _storage.WriteStateAsync(StateName, grainId, first);
        var staleEtag = first.ETag;
        first.State!.Counter = 2;
        await _storage.WriteStateAsync(StateName, grainId, first);

        var stale = new GrainState<TestState>(new TestState { Counter = 666 }) { ETag = staleEtag, RecordExists = true };
        await Assert.ThrowsAsync<InconsistentStateException>(() => _storage.WriteStateAsync(StateName, grainId, stale));

        var read = await Read(StateName, grainId);
        Assert.Equal(2, read.State!.Counter);
        Assert.Equal(first.ETag, read.ETag);
    }

    [Fact]
    public async Task A_first_write_over_a_row_someone_else_created_is_rejected()
    {
        var grainId = NewGrainId();
        await _storage.WriteStateAsync(StateName, grainId, new GrainState<TestState>(new TestState { Counter = 1 }));

        var unaware = new GrainState<TestState>(new TestState { Counter = 666 });
        await Assert.ThrowsAsync<InconsistentStateException>(() => _storage.WriteStateAsync(StateName, grainId, unaware));

        Assert.Equal(1, (await Read(StateName, grainId)).State!.Counter);
    }

    [Fact]
    public async Task Clear_removes_the_record_and_resets_the_etag()
    {
        var grainId = NewGrainId();
        var state = new GrainState<TestState>(new TestState { Counter = 5 });
        await _storage.WriteStateAsync(StateName, grainId, state);

        await _storage.ClearStateAsync(StateName, grainId, state);

        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.Equal(0, state.State!.Counter);
        var read = await Read(StateName, grainId);
        Assert.False(read.RecordExists);
        Assert.Null(read.ETag);

        // The grain can write again after a clear.
        state.State!.Counter = 6;
        await _storage.WriteStateAsync(StateName, grainId, state);
        Assert.Equal(6, (await Read(StateName, grainId)).State!.Counter);
    }

    [Fact]
    public async Task Clear_with_a_stale_etag_is_rejected_and_keeps_the_record()
    {
        var grainId = NewGrainId();
        var state = new GrainState<TestState>(new TestState { Counter = 1 });
        await _storage.WriteStateAsync(StateName, grainId, state);
        var staleEtag = state.ETag;
        await _storage.WriteStateAsync(StateName, grainId, state);

        var stale = new GrainState<TestState>(new TestState()) { ETag = staleEtag, RecordExists = true };
        await Assert.ThrowsAsync<InconsistentStateException>(() => _storage.ClearStateAsync(StateName, grainId, stale));

        Assert.True((await Read(StateName, grainId)).RecordExists);
    }

    [Theory]
    [InlineData("with/slash")]
    [InlineData("with\\backslash")]
    [InlineData("with#hash")]
    [InlineData("with?question")]
    [InlineData("control\u0001\u001f\u007f\u0085chars")]
    [InlineData("tab\tnewline\n")]
    [InlineData("unicode-Grüße-交换机-🚀")]
    [InlineData("quote'and\"double and %percent and ~tilde")]
    [InlineData("")]
    public async Task Grain_ids_with_characters_table_keys_forbid_round_trip(string key)
    {
        var grainId = GrainId.Create("awkward/type#?", key + Guid.NewGuid().ToString("N"));
        var state = new GrainState<TestState>(new TestState { Text = key });

        await _storage.WriteStateAsync("state/with#odd?name\\", grainId, state);

        var read = await Read("state/with#odd?name\\", grainId);
        Assert.True(read.RecordExists);
        Assert.Equal(key, read.State!.Text);
    }

    [Fact]
    public async Task Very_long_grain_ids_that_differ_only_at_the_end_are_different_rows()
    {
        var prefix = new string('x', 5000) + "/" + new string('é', 500);
        var first = GrainId.Create("long", prefix + "-1");
        var second = GrainId.Create("long", prefix + "-2");

        await _storage.WriteStateAsync(StateName, first, new GrainState<TestState>(new TestState { Counter = 1 }));
        await _storage.WriteStateAsync(StateName, second, new GrainState<TestState>(new TestState { Counter = 2 }));

        Assert.Equal(1, (await Read(StateName, first)).State!.Counter);
        Assert.Equal(2, (await Read(StateName, second)).State!.Counter);
    }

    [Theory]
    [InlineData(300 * 1024)]
    [InlineData(900 * 1024)]
    public async Task State_larger_than_one_property_is_split_and_round_trips(int size)
    {
        var grainId = NewGrainId();
        var blob = new byte[size];
        new Random(size).NextBytes(blob);

        await _storage.WriteStateAsync(StateName, grainId, new GrainState<TestState>(new TestState { Blob = blob }));

        var read = await Read(StateName, grainId);
        Assert.Equal(blob, read.State!.Blob);
    }

    [Fact]
    public async Task State_too_large_for_an_entity_is_rejected_naming_the_grain_and_size_and_nothing_is_written()
    {
        var grainId = NewGrainId();
        var existing = new GrainState<TestState>(new TestState { Counter = 1 });
        await _storage.WriteStateAsync(StateName, grainId, existing);

        existing.State!.Blob = new byte[2 * 1024 * 1024];
        var error = await Assert.ThrowsAsync<FabricGrainStateTooLargeException>(() => _storage.WriteStateAsync(StateName, grainId, existing));

        Assert.Contains(grainId.ToString(), error.Message);
        Assert.Contains(StateName, error.Message);
        Assert.True(error.Size > 2 * 1024 * 1024);
        Assert.Contains(error.Size.ToString("N0", System.Globalization.CultureInfo.CurrentCulture), error.Message);
        var read = await Read(StateName, grainId);
        Assert.Equal(1, read.State!.Counter);
        Assert.Empty(read.State!.Blob);
    }

    [Fact]
    public void Table_names_are_derived_from_provider_names_and_valid()
    {
        Assert.Equal("GrainsFabric", FabricTableStorageOptions.DeriveTableName("fabric"));
        var odd = FabricTableStorageOptions.DeriveTableName("my-store");
        var other = FabricTableStorageOptions.DeriveTableName("my.store");
        Assert.NotEqual(odd, other);
        Assert.Matches("^[A-Za-z][A-Za-z0-9]{2,62}$", odd);
        Assert.Matches("^[A-Za-z][A-Za-z0-9]{2,62}$", FabricTableStorageOptions.DeriveTableName(new string('a', 200)));
        Assert.Matches("^[A-Za-z][A-Za-z0-9]{2,62}$", FabricTableStorageOptions.DeriveTableName("Default"));
    }

    private async Task<GrainState<TestState>> Read(string stateName, GrainId grainId)
    {
        var state = new GrainState<TestState>(new TestState());
        await _storage.ReadStateAsync(stateName, grainId, state);
        return state;
    }

    private FabricTableGrainStorage CreateStorage(string name) => new(
        name,
        new FabricTableStorageOptions
        {
            ConnectionString = azurite.ConnectionString,
            GrainStorageSerializer = new OrleansGrainStorageSerializer(_services.GetRequiredService<Serializer>()),
        },
        Options.Create(new ClusterOptions { ClusterId = "test", ServiceId = "fabric-tests" }),
        _services.GetRequiredService<IActivatorProvider>(),
        NullLogger<FabricTableGrainStorage>.Instance);

    private static GrainId NewGrainId() => GrainId.Create("test", Guid.NewGuid().ToString("N"));
}
