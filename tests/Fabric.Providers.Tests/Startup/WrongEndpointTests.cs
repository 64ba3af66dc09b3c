using Fabric.Providers.AzureTables;
using Fabric.Providers.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace Fabric.Providers.Tests.Startup;

/// <summary>Endpoints that answer, but not as the configured account: the failure says so, quickly.</summary>
[Collection(AzuriteCollection.Name)]
[Trait("Category", "Storage")]
public sealed class WrongEndpointTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task A_wrong_account_key_is_reported_as_refused_credentials()
    {
        var wrongKey = Convert.ToBase64String(new byte[64]);
        var connectionString = azurite.ConnectionString.Replace(AzuriteFixture.AccountKey, wrongKey, StringComparison.Ordinal);
        var table = Create(connectionString);

        var error = await Assert.ThrowsAsync<FabricStorageUnavailableException>(() => table.InitializeMembershipTable(true));

        Assert.Contains("HTTP 403", error.Message);
        Assert.Contains("account name or key", error.Message);
        Assert.DoesNotContain(wrongKey, error.Message);
    }

    [Fact]
    public async Task A_wrong_account_name_in_the_endpoint_path_fails_with_the_endpoint_named()
    {
        var connectionString = azurite.ConnectionString.Replace($"/{AzuriteFixture.AccountName};", "/nosuchaccount;", StringComparison.Ordinal);
        var table = Create(connectionString);

        var error = await Assert.ThrowsAsync<FabricStorageUnavailableException>(() => table.InitializeMembershipTable(true));

        Assert.Contains($"http://127.0.0.1:{azurite.Port}/nosuchaccount", error.Message);
        Assert.Contains("HTTP ", error.Message);
    }

    private static FabricTableMembershipTable Create(string connectionString) => new(
        Options.Create(new FabricTableClusteringOptions { ConnectionString = connectionString, TableName = "Wrong" + Guid.NewGuid().ToString("N") }),
        Options.Create(new ClusterOptions { ClusterId = "fabric" }),
        NullLogger<FabricTableMembershipTable>.Instance);
}
