namespace Fabric.Providers.AzureTables;

/// <summary>Settings every Fabric table provider shares: where the table service is and how hard to try.</summary>
public abstract class FabricTableOptionsBase
{
    /// <summary>Azure Storage connection string (Azurite locally). Required.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// Name of the setting the connection string came from, used in error messages. The
    /// IConfiguration overloads of the builder extensions fill it in from the section path.
    /// </summary>
    public string ConnectionStringSettingName { get; set; } = "Fabric:Storage:ConnectionString";

    /// <summary>Longest time one request may wait for the network (Azure SDK <c>Retry.NetworkTimeout</c>).</summary>
    public TimeSpan NetworkTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries of a failed request during normal operation.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>
    /// Bound on start-up work (creating the table): with a wrong or unreachable endpoint the
    /// provider fails within this time with <see cref="FabricStorageUnavailableException"/>.
    /// </summary>
    public TimeSpan InitializationTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
