using System.Net;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Messaging;
using Orleans.Runtime;

namespace Fabric.Providers.AzureTables;

/// <summary>
/// For clients (host agents, the CLI): the gateway endpoints of the cluster's active silos, read
/// from the membership table the silos maintain.
/// </summary>
public sealed partial class FabricTableGatewayListProvider(
    IOptions<FabricTableClusteringOptions> options,
    IOptions<ClusterOptions> clusterOptions,
    IOptions<GatewayOptions> gatewayOptions,
    ILogger<FabricTableGatewayListProvider> logger) : IGatewayListProvider
{
    private readonly FabricTableClusteringOptions _options = options.Value;
    private readonly string _clusterId = clusterOptions.Value.ClusterId;
    private TableClient? _table;

    public TimeSpan MaxStaleness { get; } = gatewayOptions.Value.GatewayListRefreshPeriod;

    public bool IsUpdatable => true;

    public Task InitializeGatewayListProvider() => InitializeGatewayListProviderAsync(CancellationToken.None);

    public async Task InitializeGatewayListProviderAsync(CancellationToken cancellationToken)
    {
        // Creating the table (a no-op when a silo already did) checks the endpoint and the key, so a
        // wrong setting fails the client's start with a clear message instead of an empty gateway list.
        _table = await FabricTableClients.CreateTableIfNotExistsAsync(_options, _options.TableName, cancellationToken).ConfigureAwait(false);
    }

    public Task<IList<Uri>> GetGateways() => GetGatewaysAsync(CancellationToken.None);

    public async Task<IList<Uri>> GetGatewaysAsync(CancellationToken cancellationToken)
    {
        var table = _table ?? throw new InvalidOperationException(
            $"{nameof(FabricTableGatewayListProvider)} is used before {nameof(InitializeGatewayListProvider)}.");
        var partitionKey = TableKeyEncoding.Encode(_clusterId);
        const string Active = nameof(SiloStatus.Active);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey} and Status eq {Active} and ProxyPort gt {0}");

        var gateways = new List<Uri>();
        await foreach (var row in table.QueryAsync<SiloInstanceTableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (row.IsVersionRow || row.IsHeartbeatRow || !IPAddress.TryParse(row.Address, out var address))
            {
                continue;
            }

            gateways.Add(SiloAddress.New(address, row.ProxyPort, row.Generation).ToGatewayUri());
        }

        LogFoundGateways(gateways.Count, _clusterId);
        return gateways;
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Debug, Message = "Found {Count} active gateways for cluster '{ClusterId}'")]
    private partial void LogFoundGateways(int count, string clusterId);
}
