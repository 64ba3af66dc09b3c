namespace Fabric.Providers.AzureTables;

/// <summary>
/// Where silos keep the membership table and clients find gateways. The partition is the cluster id
/// from Orleans' <c>ClusterOptions</c>, so several clusters can share one table.
/// </summary>
public sealed class FabricTableClusteringOptions : FabricTableOptionsBase
{
    /// <summary>Default membership table name.</summary>
    public const string DefaultTableName = "FabricMembership";

    /// <summary>Table holding the membership rows. Letters and digits, 3-63 characters, starting with a letter.</summary>
    public string TableName { get; set; } = DefaultTableName;
}
