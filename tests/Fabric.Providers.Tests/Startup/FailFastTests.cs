using System.Diagnostics;
using Fabric.Providers.AzureTables;
using Fabric.Providers.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Fabric.Providers.Tests.Startup;

/// <summary>
/// Issue requirement: cluster mode against an unreachable or wrong table endpoint fails within
/// seconds, with a message naming the setting, the endpoint and what went wrong.
/// </summary>
[Trait("Category", "Storage")]
public sealed class FailFastTests
{
    private static readonly TimeSpan FewSeconds = TimeSpan.FromSeconds(8);

    [Fact]
    public async Task Membership_table_against_a_closed_port_fails_fast_naming_the_setting_endpoint_and_table()
    {
        var port = AzuriteFixture.FreeLoopbackPort();
        var table = new FabricTableMembershipTable(
            Options.Create(new FabricTableClusteringOptions { ConnectionString = AzuriteFixture.DevelopmentConnectionString(port) }),
            Options.Create(new ClusterOptions { ClusterId = "fabric", ServiceId = "fabric" }),
            NullLogger<FabricTableMembershipTable>.Instance);

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<FabricStorageUnavailableException>(() => table.InitializeMembershipTable(true));

        Assert.True(clock.Elapsed < FewSeconds, $"took {clock.Elapsed}");
        Assert.Equal(
            $"Fabric:Storage:ConnectionString: could not reach the table endpoint http://127.0.0.1:{port}/devstoreaccount1 (connection refused) while creating table 'FabricMembership'",
            error.Message);
    }

    [Fact]
    public async Task Grain_storage_against_a_closed_port_fails_fast_naming_its_table()
    {
        var port = AzuriteFixture.FreeLoopbackPort();
        using var services = new ServiceCollection().AddSerializer().BuildServiceProvider();
        var storage = new FabricTableGrainStorage(
            "fabric",
            new FabricTableStorageOptions
            {
                ConnectionString = AzuriteFixture.DevelopmentConnectionString(port),
                ConnectionStringSettingName = "Fabric:Storage:ConnectionString",
                GrainStorageSerializer = new OrleansGrainStorageSerializer(services.GetRequiredService<Serializer>()),
            },
            Options.Create(new ClusterOptions()),
            services.GetRequiredService<IActivatorProvider>(),
            NullLogger<FabricTableGrainStorage>.Instance);

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<FabricStorageUnavailableException>(() => storage.InitializeAsync(CancellationToken.None));

        Assert.True(clock.Elapsed < FewSeconds, $"took {clock.Elapsed}");
        Assert.Contains("connection refused", error.Message);
        Assert.Contains("while creating table 'GrainsFabric'", error.Message);
    }

    [Fact]
    public async Task Gateway_list_provider_against_a_closed_port_fails_fast()
    {
        var port = AzuriteFixture.FreeLoopbackPort();
        var provider = new FabricTableGatewayListProvider(
            Options.Create(new FabricTableClusteringOptions { ConnectionString = AzuriteFixture.DevelopmentConnectionString(port) }),
            Options.Create(new ClusterOptions { ClusterId = "fabric" }),
            Options.Create(new GatewayOptions()),
            NullLogger<FabricTableGatewayListProvider>.Instance);

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<FabricStorageUnavailableException>(() => provider.InitializeGatewayListProvider());

        Assert.True(clock.Elapsed < FewSeconds, $"took {clock.Elapsed}");
        Assert.Equal($"http://127.0.0.1:{port}/devstoreaccount1", error.Endpoint.ToString().TrimEnd('/'));
    }

    [Fact]
    public async Task An_endpoint_that_accepts_connections_but_never_answers_fails_within_the_initialization_timeout()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var table = new FabricTableMembershipTable(
            Options.Create(new FabricTableClusteringOptions
            {
                ConnectionString = AzuriteFixture.DevelopmentConnectionString(port),
                InitializationTimeout = TimeSpan.FromSeconds(2),
            }),
            Options.Create(new ClusterOptions { ClusterId = "fabric" }),
            NullLogger<FabricTableMembershipTable>.Instance);

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<FabricStorageUnavailableException>(() => table.InitializeMembershipTable(true));

        Assert.True(clock.Elapsed < FewSeconds, $"took {clock.Elapsed}");
        Assert.Contains("no answer within 2 s", error.Message);
    }

    [Fact]
    public async Task The_error_names_the_setting_the_connection_string_came_from()
    {
        var port = AzuriteFixture.FreeLoopbackPort();
        var options = new FabricTableClusteringOptions
        {
            ConnectionString = AzuriteFixture.DevelopmentConnectionString(port),
            ConnectionStringSettingName = "Custom:Section:ConnectionString",
        };
        var table = new FabricTableMembershipTable(
            Options.Create(options), Options.Create(new ClusterOptions { ClusterId = "fabric" }), NullLogger<FabricTableMembershipTable>.Instance);

        var error = await Assert.ThrowsAsync<FabricStorageUnavailableException>(() => table.InitializeMembershipTable(true));

        Assert.StartsWith("Custom:Section:ConnectionString: ", error.Message);
    }

    [Fact]
    public void Validation_rejects_a_missing_or_malformed_connection_string_without_echoing_it()
    {
        var missing = new FabricTableClusteringOptionsValidator(new FabricTableClusteringOptions(), "fabric");
        var missingError = Assert.Throws<OrleansConfigurationException>(missing.ValidateConfiguration);
        Assert.StartsWith("Fabric:Storage:ConnectionString: no connection string", missingError.Message);

        var malformed = new FabricTableClusteringOptionsValidator(
            new FabricTableClusteringOptions { ConnectionString = "AccountName=x;AccountKey=c2VjcmV0;Nonsense" }, "fabric");
        var malformedError = Assert.Throws<OrleansConfigurationException>(malformed.ValidateConfiguration);
        Assert.StartsWith("Fabric:Storage:ConnectionString: is not a valid Azure Storage connection string", malformedError.Message);
        Assert.DoesNotContain("c2VjcmV0", malformedError.Message);
    }

    [Fact]
    public void Validation_rejects_bad_table_names()
    {
        var options = new FabricTableClusteringOptions { ConnectionString = AzuriteFixture.DevelopmentConnectionString(10002), TableName = "bad-name" };
        var error = Assert.Throws<OrleansConfigurationException>(new FabricTableClusteringOptionsValidator(options, "fabric").ValidateConfiguration);
        Assert.Contains("TableName", error.Message);

        var storage = new FabricTableStorageOptions
        {
            ConnectionString = AzuriteFixture.DevelopmentConnectionString(10002),
            TableName = "x",
            GrainStorageSerializer = new OrleansGrainStorageSerializer(null!),
        };
        Assert.Throws<OrleansConfigurationException>(new FabricTableStorageOptionsValidator(storage, "fabric").ValidateConfiguration);
    }

    [Fact]
    public void Options_bound_from_a_configuration_section_name_that_section_in_errors()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Fabric:Storage:ConnectionString"] = "UseDevelopmentStorage=true",
                ["Fabric:Storage:TableName"] = "ClusterTable",
                ["Fabric:Storage:InitializationTimeout"] = "00:00:03",
            })
            .Build();
        var services = new ServiceCollection().AddLogging().AddSerializer();
        services.AddSingleton<IGrainStorageSerializer>(sp => new OrleansGrainStorageSerializer(sp.GetRequiredService<Serializer>()));
        var builder = new TestSiloBuilder(services, configuration);

        builder.UseFabricTableClustering(configuration.GetSection("Fabric:Storage"));
        builder.AddFabricTableGrainStorage("fabric", configuration.GetSection("Fabric:Storage"));
        using var provider = services.BuildServiceProvider();

        var clustering = provider.GetRequiredService<IOptions<FabricTableClusteringOptions>>().Value;
        Assert.Equal("ClusterTable", clustering.TableName);
        Assert.Equal(TimeSpan.FromSeconds(3), clustering.InitializationTimeout);
        Assert.Equal("Fabric:Storage:ConnectionString", clustering.ConnectionStringSettingName);
        Assert.IsType<FabricTableMembershipTable>(provider.GetRequiredService<IMembershipTable>());

        var storage = provider.GetRequiredService<IOptionsMonitor<FabricTableStorageOptions>>().Get("fabric");
        Assert.Equal("UseDevelopmentStorage=true", storage.ConnectionString);
        Assert.Equal("Fabric:Storage:ConnectionString", storage.ConnectionStringSettingName);
        Assert.NotNull(storage.GrainStorageSerializer); // the silo's serializer, filled in by default
    }

    private sealed class TestSiloBuilder(IServiceCollection services, IConfiguration configuration) : Orleans.Hosting.ISiloBuilder
    {
        public IServiceCollection Services { get; } = services;
        public IConfiguration Configuration { get; } = configuration;
    }
}
