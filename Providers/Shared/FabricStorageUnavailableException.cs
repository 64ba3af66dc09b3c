namespace Fabric.Providers.AzureTables;

/// <summary>
/// Table storage could not be reached or refused Fabric's requests while a provider was starting.
/// The message names the configuration setting, the endpoint that was tried, what went wrong and
/// which operation was under way, so an operator can fix the setting without reading a stack trace.
/// </summary>
public sealed class FabricStorageUnavailableException : Exception
{
    public FabricStorageUnavailableException(string settingName, Uri endpoint, string reason, string operation, Exception? innerException)
        : base($"{settingName}: could not reach the table endpoint {endpoint} ({reason}) while {operation}", innerException)
    {
        SettingName = settingName;
        Endpoint = endpoint;
        Reason = reason;
        Operation = operation;
    }

    /// <summary>The configuration setting that holds the connection string, e.g. "Fabric:Storage:ConnectionString".</summary>
    public string SettingName { get; }

    /// <summary>The table service endpoint that was tried.</summary>
    public Uri Endpoint { get; }

    /// <summary>What went wrong, e.g. "connection refused".</summary>
    public string Reason { get; }

    /// <summary>What the provider was doing, e.g. "creating table 'FabricMembership'".</summary>
    public string Operation { get; }
}
