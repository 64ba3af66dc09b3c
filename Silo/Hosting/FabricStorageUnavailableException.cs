namespace Fabric.Silo.Hosting;

/// <summary>
/// The table service could not be reached, or refused the account, when the silo checked it at start.
/// The message names the setting, the endpoint that was tried, what went wrong and what the check was
/// doing, so an operator can fix the setting without reading a stack trace.
/// </summary>
public sealed class FabricStorageUnavailableException : Exception
{
    /// <summary>Creates the exception; the message is built from the parts.</summary>
    /// <param name="settingName">The setting that holds the connection string, e.g. "Fabric:Storage:ConnectionString".</param>
    /// <param name="endpoint">The table service endpoint that was tried.</param>
    /// <param name="reason">What went wrong, e.g. "connection refused".</param>
    /// <param name="operation">What the check was doing, e.g. "creating table 'FabricMembership'".</param>
    /// <param name="innerException">The failure reported by the table client.</param>
    public FabricStorageUnavailableException(string settingName, Uri endpoint, string reason, string operation, Exception? innerException)
        : base($"{settingName}: could not reach the table endpoint {endpoint} ({reason}) while {operation}", innerException)
    {
        SettingName = settingName;
        Endpoint = endpoint;
        Reason = reason;
        Operation = operation;
    }

    /// <summary>The setting that holds the connection string, e.g. "Fabric:Storage:ConnectionString".</summary>
    public string SettingName { get; }

    /// <summary>The table service endpoint that was tried.</summary>
    public Uri Endpoint { get; }

    /// <summary>What went wrong, e.g. "connection refused".</summary>
    public string Reason { get; }

    /// <summary>What the check was doing, e.g. "creating table 'FabricMembership'".</summary>
    public string Operation { get; }
}
