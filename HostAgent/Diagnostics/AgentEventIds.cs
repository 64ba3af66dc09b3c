namespace Fabric.HostAgent.Diagnostics;

/// <summary>
/// Every log event id of the host agent, in one place, so operators can alert on an id and no two
/// messages share one. The agent owns 3000–3999 (Grains 1000–1999, Silo 2000–2999); ids are never
/// reused for another meaning.
/// </summary>
/// <remarks>
/// Retired: 1001–1005 (the data-plane host used the Grains' range before issue 8; now 3101–3105 with
/// the same meanings), 3006 and 3007 (never logged).
/// </remarks>
internal static class AgentEventIds
{
    // Control: the agent's session with the cluster (3000–3099).

    /// <summary>The replica was filled from the cluster (first time or after an outage).</summary>
    public const int Synchronized = 3001;

    /// <summary>The control plane does not answer; forwarding goes on from the cached tables. Once per outage.</summary>
    public const int Unreachable = 3002;

    /// <summary>The session starts over (host revived, switch configuration changed).</summary>
    public const int Resync = 3003;

    /// <summary>A port's port group does not exist on the switch.</summary>
    public const int PortWithoutSegment = 3005;

    /// <summary>A batch of learned MACs was refused by the MAC table as invalid and is not retried.</summary>
    public const int LearnRejected = 3009;

    /// <summary>A delta showed a gap or a new activation; the segment or MAC table is fetched whole.</summary>
    public const int Resnapshot = 3010;

    // Data plane and its housekeeping (3100–3199).

    /// <summary>Ports and the VTEP socket are open and forwarding.</summary>
    public const int DataPlaneStarted = 3101;

    /// <summary>A receive loop ended with an exception (critical: that port no longer forwards).</summary>
    public const int ReceiveLoopFailed = 3102;

    /// <summary>The status file could not be written.</summary>
    public const int StatusFileFailed = 3103;

    /// <summary>Warm start: forwarding on the saved tables until the cluster answers.</summary>
    public const int WarmStart = 3104;

    /// <summary>Cold start: the saved tables were not usable (missing, old, for other ports).</summary>
    public const int ColdStart = 3105;

    /// <summary>A receive thread could not be given its real-time priority (no CAP_SYS_NICE); it forwards on normal scheduling.</summary>
    public const int RealtimePriorityRefused = 3106;

    // Local ports attached and detached at run time (3200–3299).

    /// <summary>A port was attached through the local port API.</summary>
    public const int PortAttached = 3201;

    /// <summary>A port was detached through the local port API.</summary>
    public const int PortDetached = 3202;

    /// <summary>A runtime port restored from the ports file has no interface any more (its workload is gone); it was dropped.</summary>
    public const int RestoredPortMissing = 3203;

    /// <summary>The local port API listens on its unix socket.</summary>
    public const int LocalApiListening = 3204;

    /// <summary>The operator's port requests were applied (some may have failed; the API shows why).</summary>
    public const int PortRequestsApplied = 3205;

    /// <summary>The operator's port requests could not be read or reported; retried.</summary>
    public const int PortRequestsFailed = 3206;

    // DHCP served by the agent (3300–3399).

    /// <summary>A DHCP lease was acknowledged (RFC 2131 DHCPACK): client MAC, address, port.</summary>
    public const int DhcpLeased = 3301;

    /// <summary>A DHCP request was refused (DHCPNAK) or could not be served (IPAM unreachable, pool exhausted).</summary>
    public const int DhcpRefused = 3302;

    /// <summary>A DHCP lease was released by its client (DHCPRELEASE) or declined (DHCPDECLINE).</summary>
    public const int DhcpReleased = 3303;

    // Host networks: host-only and NAT gateways, the bridged uplink (3400–3499).

    /// <summary>The host's networks were plumbed: gateway interfaces, the uplink port, the nftables table.</summary>
    public const int HostNetworksApplied = 3401;

    /// <summary>Plumbing the host's networks failed (a command refused); retried.</summary>
    public const int HostNetworksFailed = 3402;

    // The management endpoint: status, traces, mirrors, metrics (3500–3599).

    /// <summary>The management endpoint listens (its URL, and the URL registered for the silos).</summary>
    public const int ManagementListening = 3501;

    /// <summary>The management endpoint could not listen (address in use, no such address); the agent forwards without it.</summary>
    public const int ManagementFailed = 3502;

    /// <summary>A local port mirror started (a capture streamed through the endpoint).</summary>
    public const int MirrorStarted = 3503;

    /// <summary>A local port mirror ended (its reader left, its count was reached or its port was detached), with the frames it could not keep up with.</summary>
    public const int MirrorEnded = 3504;

    /// <summary>Local MACs not seen for MacAgingTime were forgotten.</summary>
    public const int Aged = 3004;

    /// <summary>The forwarding tables could not be saved (a restart will wait for the cluster).</summary>
    public const int CacheSaveFailed = 3008;
}
