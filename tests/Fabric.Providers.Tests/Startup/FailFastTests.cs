using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Azure;
using Fabric.Providers.Tests.Infrastructure;
using Fabric.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Clustering.AzureStorage;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Serialization;
using Orleans.Storage;
using Xunit.Abstractions;

namespace Fabric.Providers.Tests.Startup;

/// <summary>
/// Issue requirement: cluster mode against an unreachable or wrong table endpoint fails within
/// seconds, with a message naming the setting, the endpoint and what went wrong.
/// </summary>
[Trait("Category", "Storage")]
public sealed class FailFastTests(ITestOutputHelper output)
{
    private static readonly TimeSpan FewSeconds = TimeSpan.FromSeconds(8);

    [Fact]
    public async Task The_start_up_check_against_a_closed_port_fails_fast_naming_the_setting_endpoint_and_table()
    {
        var port = AzuriteFixture.FreeLoopbackPort();
        var settings = Settings(AzuriteFixture.DevelopmentConnectionString(port));

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<FabricStorageUnavailableException>(() => CheckAsync(settings));
        output.WriteLine($"{clock.Elapsed.TotalSeconds:0.00} s: {error.Message}");

        Assert.True(clock.Elapsed < FewSeconds, $"took {clock.Elapsed}");
        Assert.Equal(
            $"Fabric:Storage:ConnectionString: could not reach the table endpoint http://127.0.0.1:{port}/devstoreaccount1 (connection refused) while creating table 'FabricMembership'",
            error.Message);
    }

    [Fact]
    public async Task The_start_up_check_against_an_endpoint_that_never_answers_fails_within_the_initialization_timeout()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var settings = Settings(AzuriteFixture.DevelopmentConnectionString(port));
        settings.InitializationTimeout = TimeSpan.FromSeconds(2);

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<FabricStorageUnavailableException>(() => CheckAsync(settings));
        output.WriteLine($"{clock.Elapsed.TotalSeconds:0.00} s: {error.Message}");

        Assert.True(clock.Elapsed < FewSeconds, $"took {clock.Elapsed}");
        Assert.Contains("no answer within 2 s", error.Message);
    }

    /// <summary>
    /// Why the silo keeps its own start-up check: Orleans' providers alone, against the same closed
    /// port, fail with the SDK's retry summary, which names neither the setting nor the table endpoint.
    /// </summary>
    [Fact]
    public async Task Without_the_check_orleans_providers_fail_a_closed_port_without_naming_the_setting_or_the_endpoint()
    {
        var port = AzuriteFixture.FreeLoopbackPort();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Fabric:Storage:ConnectionString"] = AzuriteFixture.DevelopmentConnectionString(port),
        });
        builder.UseOrleans(silo => silo
            .ConfigureEndpoints(IPAddress.Loopback, AzuriteFixture.FreeLoopbackPort(), AzuriteFixture.FreeLoopbackPort())
            .UseFabricTableStorage());
        using var host = builder.Build();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(120));

        var clock = Stopwatch.StartNew();
        var error = await Record.ExceptionAsync(() => host.StartAsync(bound.Token));
        output.WriteLine($"{clock.Elapsed.TotalSeconds:0.00} s: {error?.GetType().FullName}: {error?.Message}");

        Assert.NotNull(error);
        Assert.False(bound.IsCancellationRequested, "the silo was still starting after 120 s");
        Assert.IsNotType<FabricStorageUnavailableException>(error);
        Assert.True(error is AggregateException or RequestFailedException, $"unexpected {error.GetType()}");
        Assert.DoesNotContain("Fabric:Storage:ConnectionString", error.Message);
        Assert.DoesNotContain($"http://127.0.0.1:{port}/devstoreaccount1", error.Message);
    }

    [Fact]
    public void Validation_rejects_a_missing_or_malformed_connection_string_without_echoing_it()
    {
        var missing = Validate(new FabricStorageSettings());
        Assert.Contains("Fabric:Storage:ConnectionString is required when Fabric:Cluster:Mode is AzureTable.", missing);

        var malformed = Validate(new FabricStorageSettings { ConnectionString = "AccountName=x;AccountKey=c2VjcmV0;Nonsense" });
        var failure = Assert.Single(malformed);
        Assert.StartsWith("Fabric:Storage:ConnectionString is not a valid Azure Storage connection string", failure);
        Assert.DoesNotContain("c2VjcmV0", failure);
    }

    [Fact]
    public void Validation_rejects_bad_or_equal_table_names_and_bounds()
    {
        var connectionString = AzuriteFixture.DevelopmentConnectionString(10002);

        Assert.Contains(Validate(new FabricStorageSettings { ConnectionString = connectionString, TableName = "bad-name" }), f => f.StartsWith("Fabric:Storage:TableName 'bad-name' is not a valid table name", StringComparison.Ordinal));
        Assert.Contains(Validate(new FabricStorageSettings { ConnectionString = connectionString, GrainTableName = "x" }), f => f.StartsWith("Fabric:Storage:GrainTableName 'x'", StringComparison.Ordinal));
        Assert.Contains(Validate(new FabricStorageSettings { ConnectionString = connectionString, TableName = "Same", GrainTableName = "same" }), f => f.Contains("must differ", StringComparison.Ordinal));
        Assert.Contains(Validate(new FabricStorageSettings { ConnectionString = connectionString, MaxRetries = 11 }), f => f.StartsWith("Fabric:Storage:MaxRetries", StringComparison.Ordinal));
        Assert.Contains(Validate(new FabricStorageSettings { ConnectionString = connectionString, InitializationTimeout = TimeSpan.Zero }), f => f.StartsWith("Fabric:Storage:InitializationTimeout", StringComparison.Ordinal));
        Assert.Empty(Validate(new FabricStorageSettings { ConnectionString = connectionString }));
    }

    [Theory]
    [InlineData("ClusterId", "east/1")]
    [InlineData("ClusterId", "a#b")]
    [InlineData("ServiceId", "fabric?")]
    [InlineData("ServiceId", "tab\tid")]
    public void Cluster_and_service_ids_that_table_keys_forbid_are_refused_at_start_in_cluster_mode(string setting, string value)
    {
        var options = new FabricSiloOptions { Mode = ClusterMode.AzureTable };
        typeof(FabricSiloOptions).GetProperty(setting)!.SetValue(options, value);

        var result = new FabricSiloOptionsValidator().Validate(Options.DefaultName, options);

        Assert.True(result.Failed);
        var failure = Assert.Single(result.Failures);
        Assert.StartsWith($"Fabric:Cluster:{setting} '{value}' cannot be used with Mode AzureTable", failure);

        // Embedded mode keeps nothing in tables, so the same id is fine there; so is a plain one in cluster mode.
        options.Mode = ClusterMode.Embedded;
        Assert.True(new FabricSiloOptionsValidator().Validate(Options.DefaultName, options).Succeeded);
        Assert.True(new FabricSiloOptionsValidator().Validate(Options.DefaultName, new FabricSiloOptions { Mode = ClusterMode.AzureTable, ClusterId = "east-1.prod_a" }).Succeeded);
    }

    [Fact]
    public void The_storage_section_configures_orleans_providers_with_its_tables_one_endpoint_and_the_binary_serializer()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Fabric:Storage:ConnectionString"] = AzuriteFixture.DevelopmentConnectionString(10002),
                ["Fabric:Storage:TableName"] = "ClusterTable",
                ["Fabric:Storage:GrainTableName"] = "StateTable",
            })
            .Build();
        var services = new ServiceCollection().AddLogging().AddSerializer();
        new TestSiloBuilder(services, configuration).UseFabricTableStorage();
        using var provider = services.BuildServiceProvider();

        var clustering = provider.GetRequiredService<IOptions<AzureStorageClusteringOptions>>().Value;
        Assert.Equal("ClusterTable", clustering.TableName);
        Assert.Equal(new Uri("http://127.0.0.1:10002/devstoreaccount1"), clustering.TableServiceClient!.Uri);
        Assert.Contains(services, d => d.ServiceType == typeof(Orleans.IMembershipTable));

        var storage = provider.GetRequiredService<IOptionsMonitor<AzureTableStorageOptions>>().Get(FabricStorage.ProviderName);
        Assert.Equal("StateTable", storage.TableName);
        Assert.Same(clustering.TableServiceClient, storage.TableServiceClient);
        Assert.IsType<OrleansGrainStorageSerializer>(storage.GrainStorageSerializer);
        Assert.False(storage.UseStringFormat);
        Assert.True(storage.DeleteStateOnClear);
    }

    private static FabricStorageSettings Settings(string connectionString) => new() { ConnectionString = connectionString };

    private static Task CheckAsync(FabricStorageSettings settings) =>
        TableStoragePreflight.CheckAsync(settings, NullLogger.Instance, CancellationToken.None);

    private static List<string> Validate(FabricStorageSettings settings)
    {
        var failures = new List<string>();
        settings.Validate(ClusterMode.AzureTable, failures);
        return failures;
    }

    private sealed class TestSiloBuilder(IServiceCollection services, IConfiguration configuration) : ISiloBuilder
    {
        public IServiceCollection Services { get; } = services;
        public IConfiguration Configuration { get; } = configuration;
    }
}
