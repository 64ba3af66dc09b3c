using System.Diagnostics;
using Fabric.Providers.Tests.Infrastructure;
using Fabric.Silo.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Fabric.Providers.Tests.Startup;

/// <summary>Endpoints that answer, but not as the configured account: the start-up check says so, quickly.</summary>
[Collection(TableClusterCollection.Name)]
[Trait("Category", "Storage")]
public sealed class WrongEndpointTests(TableClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan FewSeconds = TimeSpan.FromSeconds(8);

    [Fact]
    public async Task A_wrong_account_key_is_reported_as_refused_credentials()
    {
        var wrongKey = Convert.ToBase64String(new byte[64]);
        var connectionString = fixture.Azurite.ConnectionString.Replace(AzuriteFixture.AccountKey, wrongKey, StringComparison.Ordinal);

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<FabricStorageUnavailableException>(() => CheckAsync(connectionString));
        output.WriteLine($"{clock.Elapsed.TotalSeconds:0.00} s: {error.Message}");

        Assert.True(clock.Elapsed < FewSeconds, $"took {clock.Elapsed}");
        Assert.StartsWith($"Fabric:Storage:ConnectionString: could not reach the table endpoint http://127.0.0.1:{fixture.Azurite.Port}/devstoreaccount1 (HTTP 403", error.Message);
        Assert.Contains("the account name or key in the connection string was refused", error.Message);
        Assert.DoesNotContain(wrongKey, error.Message);
    }

    [Fact]
    public async Task A_wrong_account_name_in_the_endpoint_path_fails_with_the_endpoint_named()
    {
        var connectionString = fixture.Azurite.ConnectionString.Replace($"/{AzuriteFixture.AccountName};", "/nosuchaccount;", StringComparison.Ordinal);

        var error = await Assert.ThrowsAsync<FabricStorageUnavailableException>(() => CheckAsync(connectionString));
        output.WriteLine(error.Message);

        Assert.Contains($"http://127.0.0.1:{fixture.Azurite.Port}/nosuchaccount", error.Message);
        Assert.Contains("(HTTP ", error.Message);
    }

    [Fact]
    public async Task The_start_up_check_against_a_working_endpoint_creates_the_membership_table()
    {
        var table = "Preflight" + Guid.NewGuid().ToString("N")[..8];

        await TableStoragePreflight.CheckAsync(
            new FabricStorageSettings { ConnectionString = fixture.Azurite.ConnectionString, TableName = table }, NullLogger.Instance, CancellationToken.None);

        var service = new Azure.Data.Tables.TableServiceClient(fixture.Azurite.ConnectionString);
        var found = new List<string>();
        await foreach (var item in service.QueryAsync(t => t.Name == table))
        {
            found.Add(item.Name);
        }

        Assert.Equal([table], found);
    }

    private static Task CheckAsync(string connectionString) => TableStoragePreflight.CheckAsync(
        new FabricStorageSettings { ConnectionString = connectionString, TableName = "Wrong" + Guid.NewGuid().ToString("N")[..8] },
        NullLogger.Instance,
        CancellationToken.None);
}
