using Azure.Data.Tables;
using Fabric.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Orleans.Clustering.AzureStorage;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace Fabric.Providers.Tests.Infrastructure;

/// <summary>
/// Azurite plus an in-process cluster of two silos configured exactly as a cluster-mode silo is
/// (<see cref="SiloHostingExtensions.UseFabricTableStorage"/> over a <c>Fabric:Storage</c> section), with
/// fresh table names per run, and a client that finds the gateways in the membership table the way a
/// host agent does. Started once for the collection, torn down always.
/// </summary>
public sealed class TableClusterFixture : IAsyncLifetime
{
    public const int Size = 2;

    private readonly string _suffix = Guid.NewGuid().ToString("N")[..12];

    public AzuriteFixture Azurite { get; } = new();

    public TestCluster Cluster { get; private set; } = null!;

    /// <summary>The membership table of this run (<c>Fabric:Storage:TableName</c>).</summary>
    public string MembershipTable => "Members" + _suffix;

    /// <summary>The grain state table of this run (<c>Fabric:Storage:GrainTableName</c>).</summary>
    public string GrainTable => "Grains" + _suffix;

    public async Task InitializeAsync()
    {
        try
        {
            await Azurite.InitializeAsync();
            var builder = new TestClusterBuilder(initialSilosCount: Size);
            builder.Options.UseTestClusterMembership = false;
            builder.Properties["Fabric:Storage:ConnectionString"] = Azurite.ConnectionString;
            builder.Properties["Fabric:Storage:TableName"] = MembershipTable;
            builder.Properties["Fabric:Storage:GrainTableName"] = GrainTable;
            builder.AddSiloBuilderConfigurator<SiloConfigurator>();
            builder.AddClientBuilderConfigurator<ClientConfigurator>();
            Cluster = builder.Build();
            await Cluster.DeployAsync();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.StopAllSilosAsync();
            await Cluster.DisposeAsync();
        }

        await Azurite.DisposeAsync();
    }

    /// <summary>A client of this run's membership table, for looking at the rows Orleans wrote.</summary>
    public TableClient Table(string name) => new TableServiceClient(Azurite.ConnectionString).GetTableClient(name);

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder.UseFabricTableStorage();
    }

    /// <summary>The host agent's configuration (AgentHostingExtensions): the official client-side provider over <c>Fabric:Storage</c>.</summary>
    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder clientBuilder)
        {
            var storage = configuration.GetSection("Fabric:Storage");
            clientBuilder.UseAzureStorageClustering((OptionsBuilder<AzureStorageGatewayOptions> options) => options.Configure(o =>
            {
                o.TableServiceClient = new TableServiceClient(storage["ConnectionString"]);
                o.TableName = storage["TableName"]!;
            }));
            clientBuilder.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(1));
        }
    }
}

[CollectionDefinition(Name)]
public sealed class TableClusterCollection : ICollectionFixture<TableClusterFixture>
{
    public const string Name = "Table storage cluster";
}
