using Fabric.Providers.AzureTables;

namespace Fabric.Silo.Hosting;

/// <summary>
/// Where cluster mode keeps membership and grain state: the configuration section <c>Fabric:Storage</c>.
/// </summary>
/// <remarks>
/// The section is bound as it stands by both Table storage providers (ConnectionString, NetworkTimeout,
/// MaxRetries, InitializationTimeout), and by the host agents' gateway lookup, so silos and agents
/// read one connection string and one membership table name. <c>TableName</c> is the membership
/// table; grain state goes to its own table, <c>GrainTableName</c>, so membership rows and grain rows
/// never share a partition.
/// </remarks>
public sealed class FabricStorageSettings
{
    public const string SectionName = "Fabric:Storage";

    public const string ConnectionStringKey = SectionName + ":" + nameof(ConnectionString);

    /// <summary>Azure Storage connection string (Azurite locally). Required when the mode is AzureTable.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Membership table (silos and their gateway ports), partitioned by cluster id.</summary>
    public string TableName { get; set; } = FabricTableClusteringOptions.DefaultTableName;

    /// <summary>Table of the "fabric" grain storage provider (switches, segments, MAC tables, hosts).</summary>
    public string GrainTableName { get; set; } = FabricTableStorageOptions.DeriveTableName(FabricStorage.ProviderName);

    /// <summary>Reads the section from <paramref name="configuration"/> (the root, not the section).</summary>
    public static FabricStorageSettings From(IConfiguration configuration)
    {
        var settings = new FabricStorageSettings();
        configuration.GetSection(SectionName).Bind(settings);
        return settings;
    }

    /// <summary>Adds to <paramref name="failures"/> what is missing for <paramref name="mode"/>.</summary>
    public void Validate(ClusterMode mode, List<string> failures)
    {
        if (mode == ClusterMode.AzureTable && string.IsNullOrWhiteSpace(ConnectionString))
        {
            failures.Add($"{ConnectionStringKey} is required when {FabricSiloOptions.SectionName}:Mode is AzureTable.");
        }

        if (string.Equals(TableName, GrainTableName, StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"{SectionName}:TableName and {SectionName}:GrainTableName must differ (both are '{TableName}').");
        }
    }
}
