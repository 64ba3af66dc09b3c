namespace Fabric.Cni;

/// <summary>
/// A CNI error result (CNI spec 1.1.0, "Error"): written to stdout as
/// <c>{"cniVersion", "code", "msg", "details"}</c> and the plugin exits non-zero. Codes 1..99 are
/// the spec's well-known ones; 100 and above are the plugin's own.
/// </summary>
internal sealed class CniError(int code, string message, string? details = null) : Exception(message)
{
    /// <summary>1: the config's cniVersion is not one this plugin speaks.</summary>
    public const int IncompatibleVersion = 1;

    /// <summary>2: a field of the network config is not supported.</summary>
    public const int UnsupportedField = 2;

    /// <summary>3: the container (its network namespace) is unknown or does not exist.</summary>
    public const int UnknownContainer = 3;

    /// <summary>4: a CNI_* environment variable is missing or invalid.</summary>
    public const int InvalidEnvironment = 4;

    /// <summary>5: an I/O failure.</summary>
    public const int IoFailure = 5;

    /// <summary>6: stdin could not be decoded.</summary>
    public const int DecodingFailure = 6;

    /// <summary>7: the network config is invalid.</summary>
    public const int InvalidConfig = 7;

    /// <summary>11: try again later (the agent or the cluster is unreachable for now).</summary>
    public const int TryAgainLater = 11;

    /// <summary>50: STATUS, the plugin cannot serve ADD now (the agent is not ready).</summary>
    public const int NotAvailable = 50;

    /// <summary>100: the agent refused the request (a conflict, an unknown port group, no address left).</summary>
    public const int Refused = 100;

    /// <summary>101: CHECK found the attachment not as it should be.</summary>
    public const int CheckFailed = 101;

    /// <summary>The code.</summary>
    public int Code { get; } = code;

    /// <summary>More about it, or null.</summary>
    public string? Details { get; } = details;
}
