namespace Fabric.HostAgent.Management;

/// <summary>
/// The URL the agent registers for its management endpoint (<see cref="Configuration.AgentOptions.AdvertisedManagementUrl"/>),
/// set only once the endpoint listens: an agent whose endpoint could not bind (its port taken, say
/// by another agent on the same machine) registers none, so the silo never relays to someone else's.
/// </summary>
internal sealed class ManagementAddress
{
    private volatile string? _registered;

    /// <summary>The advertised URL while the endpoint listens; null otherwise.</summary>
    public string? Registered => _registered;

    /// <summary>Called by the endpoint when it listens (the URL) or stops (null).</summary>
    public void Set(string? url) => _registered = url;
}
