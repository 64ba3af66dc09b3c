using Fabric.Providers.AzureTables;
using Fabric.Providers.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace Fabric.Providers.Tests.Cluster;

/// <summary>
/// Two silos that find each other only through the Table storage membership table, a client that
/// finds them through the gateway list provider, and grain state kept in Table storage.
/// </summary>
[Collection(AzuriteCollection.Name)]
[Trait("Category", "Storage")]
[Trait("Category", "Cluster")]
public sealed class TableClusterTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private const string ConnectionStringKey = "FabricTest:ConnectionString";
    private const string MembershipTableKey = "FabricTest:MembershipTable";
    private readonly string _membershipTable = "Cluster" + Guid.NewGuid().ToString("N");
    private TestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(initialSilosCount: 2);
        builder.Options.UseTestClusterMembership = false;
        builder.Properties[ConnectionStringKey] = azurite.ConnectionString;
        builder.Properties[MembershipTableKey] = _membershipTable;
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.StopAllSilosAsync();
            await _cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task Two_silos_form_a_cluster_through_the_table_and_grain_state_survives_deactivation()
    {
        var table = new FabricTableMembershipTable(
            Options.Create(new FabricTableClusteringOptions { ConnectionString = azurite.ConnectionString, TableName = _membershipTable }),
            Options.Create(new ClusterOptions { ClusterId = _cluster.Options.ClusterId }),
            NullLogger<FabricTableMembershipTable>.Instance);
        await table.InitializeMembershipTable(false);
        var members = (await table.ReadAll()).Members;
        Assert.Equal(2, members.Count(m => m.Item1.Status == SiloStatus.Active));

        var grain = _cluster.Client.GetGrain<ICounterGrain>("switch/sw1#?");
        Assert.Equal(1, await grain.IncrementAsync());
        Assert.Equal(2, await grain.IncrementAsync());
        await grain.DeactivateAsync();

        // A new activation (on either silo) reads the state back from the table.
        Assert.Equal(2, await grain.GetAsync());
        Assert.Equal(3, await grain.IncrementAsync());
    }

    [Fact]
    public async Task State_holding_ip_addresses_is_read_back_by_a_new_activation()
    {
        // With the silo's default (JSON) grain storage serializer this failed: IPAddress cannot be
        // deserialized, so every grain holding a VTEP lost its state on re-activation.
        var grain = _cluster.Client.GetGrain<IVtepBookGrain>("segment/5001");
        await grain.AddAsync("h1", System.Net.IPAddress.Parse("10.0.0.1"));
        await grain.AddAsync("h2", System.Net.IPAddress.Parse("10.0.0.2"));
        await grain.DeactivateAsync();

        var vteps = await grain.GetAsync();
        Assert.Equal(System.Net.IPAddress.Parse("10.0.0.1"), vteps["h1"]);
        Assert.Equal(System.Net.IPAddress.Parse("10.0.0.2"), vteps["h2"]);
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            var connectionString = siloBuilder.Configuration[ConnectionStringKey];
            var tableName = siloBuilder.Configuration[MembershipTableKey]!;
            siloBuilder.UseFabricTableClustering(o =>
            {
                o.ConnectionString = connectionString;
                o.TableName = tableName;
            });
            siloBuilder.AddFabricTableGrainStorage("fabric", o => o.ConnectionString = connectionString);
        }
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.UseFabricTableClustering(o =>
            {
                o.ConnectionString = configuration[ConnectionStringKey];
                o.TableName = configuration[MembershipTableKey]!;
            });
    }
}
