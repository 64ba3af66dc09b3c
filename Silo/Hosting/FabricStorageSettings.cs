using Azure.Core;
using Azure.Data.Tables;

namespace Fabric.Silo.Hosting;

/// <summary>
/// Where cluster mode keeps membership and grain state: the configuration section <c>Fabric:Storage</c>,
/// read by Orleans' Azure Table providers (clustering and grain storage) as the silo configures them.
/// </summary>
/// <remarks>
/// The host agents read <c>ConnectionString</c> and <c>TableName</c> of the same section to find the
/// gateways, so silos and agents share one connection string and one membership table name.
/// <c>TableName</c> is the membership table; grain state goes to its own table, <c>GrainTableName</c>,
/// so membership rows and grain rows never share a partition.
/// </remarks>
public sealed class FabricStorageSettings
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Fabric:Storage";

    /// <summary>The full name of the connection string setting, as error messages name it.</summary>
    public const string ConnectionStringKey = SectionName + ":" + nameof(ConnectionString);

    /// <summary>Default membership table name.</summary>
    public const string DefaultTableName = "FabricMembership";

    /// <summary>Default grain state table name.</summary>
    public const string DefaultGrainTableName = "GrainsFabric";

    /// <summary>Azure Storage connection string (Azurite locally). Required when the mode is AzureTable.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Membership table (silos and their gateway ports), partitioned by cluster id. Defaults to "FabricMembership".</summary>
    public string TableName { get; set; } = DefaultTableName;

    /// <summary>Table of the "fabric" grain storage provider (switches, segments, MAC tables, hosts). Defaults to "GrainsFabric".</summary>
    public string GrainTableName { get; set; } = DefaultGrainTableName;

    /// <summary>Longest time one table request may wait for the network. Defaults to 10 s.</summary>
    public TimeSpan NetworkTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries of a failed table request in normal operation (0..10). Defaults to 3.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>
    /// Bound on the start-up check of the table endpoint: an unreachable endpoint or a refused key stops
    /// the silo within this time. Defaults to 10 s.
    /// </summary>
    public TimeSpan InitializationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Reads the section from <paramref name="configuration"/> (the root, not the section).</summary>
    public static FabricStorageSettings From(IConfiguration configuration)
    {
        var settings = new FabricStorageSettings();
        configuration.GetSection(SectionName).Bind(settings);
        return settings;
    }

    /// <summary>Adds to <paramref name="failures"/> what is missing or wrong for <paramref name="mode"/>.</summary>
    public void Validate(ClusterMode mode, List<string> failures)
    {
        if (mode != ClusterMode.AzureTable)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            failures.Add($"{ConnectionStringKey} is required when {FabricSiloOptions.SectionName}:Mode is AzureTable.");
        }
        else
        {
            try
            {
                // Parses the connection string; makes no network call.
                _ = new TableServiceClient(ConnectionString);
            }
            catch (Exception exception) when (exception is FormatException or ArgumentException or InvalidOperationException)
            {
                // Never echo the connection string: it carries the account key.
                failures.Add($"{ConnectionStringKey} is not a valid Azure Storage connection string ({exception.Message}).");
            }
        }

        CheckTableName(failures, nameof(TableName), TableName);
        CheckTableName(failures, nameof(GrainTableName), GrainTableName);
        if (string.Equals(TableName, GrainTableName, StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"{SectionName}:TableName and {SectionName}:GrainTableName must differ (both are '{TableName}').");
        }

        if (NetworkTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{SectionName}:NetworkTimeout must be positive (was {NetworkTimeout}).");
        }

        if (InitializationTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{SectionName}:InitializationTimeout must be positive (was {InitializationTimeout}).");
        }

        if (MaxRetries is < 0 or > 10)
        {
            failures.Add($"{SectionName}:MaxRetries must be 0..10 (was {MaxRetries}).");
        }
    }

    /// <summary>
    /// The table client both providers use: <see cref="MaxRetries"/> exponential retries from 200 ms up
    /// to 2 s apart, each request bounded by <see cref="NetworkTimeout"/>. Orleans' own defaults (5
    /// retries up to a minute apart) would hold a grain call through a storage outage far longer than
    /// the agents' call timeout.
    /// </summary>
    public TableServiceClient CreateServiceClient() => new(ConnectionString, CreateClientOptions(MaxRetries, NetworkTimeout));

    internal static TableClientOptions CreateClientOptions(int maxRetries, TimeSpan networkTimeout)
    {
        var options = new TableClientOptions();
        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.MaxRetries = maxRetries;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(2);
        options.Retry.NetworkTimeout = networkTimeout;
        return options;
    }

    // Table storage's rule: 3-63 ASCII letters or digits, starting with a letter, not "tables".
    private static void CheckTableName(List<string> failures, string key, string? name)
    {
        var valid = name is { Length: >= 3 and <= 63 }
            && char.IsAsciiLetter(name[0])
            && name.All(char.IsAsciiLetterOrDigit)
            && !string.Equals(name, "tables", StringComparison.OrdinalIgnoreCase);
        if (!valid)
        {
            failures.Add($"{SectionName}:{key} '{name}' is not a valid table name (3-63 ASCII letters or digits, starting with a letter, not 'tables').");
        }
    }
}
