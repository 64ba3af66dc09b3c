using Azure.Data.Tables;
using Orleans;
using Orleans.Runtime;

namespace Fabric.Providers.AzureTables;

/// <summary>Checks clustering settings when the silo or client starts, before any table call.</summary>
public sealed class FabricTableClusteringOptionsValidator(FabricTableClusteringOptions options, string? clusterId) : IConfigurationValidator
{
    public void ValidateConfiguration()
    {
        FabricTableOptionsValidation.ValidateCommon(options, nameof(FabricTableClusteringOptions));

        if (TableNames.Validate(options.TableName) is { } problem)
        {
            throw new OrleansConfigurationException($"{nameof(FabricTableClusteringOptions)}.{nameof(options.TableName)}: {problem}.");
        }

        if (clusterId is not null && string.IsNullOrWhiteSpace(clusterId))
        {
            throw new OrleansConfigurationException("ClusterOptions.ClusterId is empty; Fabric's membership table is partitioned by cluster id.");
        }
    }
}
