using Azure.Data.Tables;
using Orleans.Runtime;

namespace Fabric.Providers.AzureTables;

/// <summary>Checks the settings every Fabric table provider shares.</summary>
internal static class FabricTableOptionsValidation
{
    public static void ValidateCommon(FabricTableOptionsBase options, string optionsName)
    {
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            throw new OrleansConfigurationException($"{options.ConnectionStringSettingName}: no connection string is configured ({optionsName}.ConnectionString).");
        }

        try
        {
            // Parses the connection string; makes no network call.
            _ = new TableServiceClient(options.ConnectionString);
        }
        catch (Exception exception) when (exception is FormatException or ArgumentException or InvalidOperationException or UriFormatException)
        {
            // Never echo the connection string: it carries the account key.
            throw new OrleansConfigurationException($"{options.ConnectionStringSettingName}: is not a valid Azure Storage connection string ({exception.Message}).", exception);
        }

        if (options.NetworkTimeout <= TimeSpan.Zero)
        {
            throw new OrleansConfigurationException($"{optionsName}.NetworkTimeout must be positive.");
        }

        if (options.InitializationTimeout <= TimeSpan.Zero)
        {
            throw new OrleansConfigurationException($"{optionsName}.InitializationTimeout must be positive.");
        }

        if (options.MaxRetries is < 0 or > 10)
        {
            throw new OrleansConfigurationException($"{optionsName}.MaxRetries must be between 0 and 10.");
        }
    }
}
