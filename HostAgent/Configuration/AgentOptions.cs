using System.Net;
using Fabric.Grains;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Configuration;

/// <summary>One local interface (veth, tap) bound to a port group of the agent's switch.</summary>
public sealed class PortBindingOptions
{
    /// <summary>The interface name on this host (inside <see cref="AgentOptions.NetworkNamespace"/> if set).</summary>
    public string Interface { get; set; } = string.Empty;

    /// <summary>The port group of the agent's switch the interface belongs to.</summary>
    public string PortGroup { get; set; } = string.Empty;

    /// <summary>
    /// Optional: the MAC address of the VM or container interface behind the port (its vNIC), e.g.
    /// <c>02:00:00:00:00:01</c>. With forged transmits rejected (the port group's default), only
    /// frames from this MAC are forwarded; when unset, the first MAC learned on an access port is it.
    /// </summary>
    public string? Mac { get; set; }

    /// <summary>Optional: the port's own VLAN policy, overriding the port group's (see <see cref="PortVlanOptions"/>).</summary>
    public PortVlanOptions? Vlan { get; set; }

    /// <summary>What the port is to the fabric: a workload's port, or one the agent plumbed itself (not bound from configuration).</summary>
    internal PortRole Role { get; set; }
}

/// <summary>What a local port is to the fabric.</summary>
internal enum PortRole
{
    /// <summary>A VM's or container's port.</summary>
    Workload = 0,

    /// <summary>
    /// A host-only or NAT network's gateway port: the agent's end of a veth whose other end, in the
    /// host's namespace, holds the gateway address with the gateway MAC (the host is the router).
    /// </summary>
    Gateway = 1,

    /// <summary>The host's uplink to the physical LAN, carrying the bridged port groups (untagged, or tagged with their uplink VLAN).</summary>
    Uplink = 2,
}

/// <summary>How the agent captures and injects the frames of its local ports.</summary>
public enum PortBackend
{
    /// <summary>
    /// AF_PACKET sockets with <c>PACKET_VNET_HDR</c> (the default): VMs and containers keep their
    /// offloads (tx checksumming, TSO, GSO), frames are received in batches.
    /// </summary>
    AfPacket,

    /// <summary>libpcap through SharpPcap: finished frames only, so the VM side must have its offloads off.</summary>
    Pcap,
}

/// <summary>The agent's settings, bound from <c>Fabric:Agent</c> (file, environment, command line).</summary>
public sealed class AgentOptions
{
    public const string SectionName = "Fabric:Agent";

    public string HostId { get; set; } = Environment.MachineName;

    /// <summary>This host's VTEP address on the underlay (IPv4).</summary>
    public string VtepAddress { get; set; } = string.Empty;

    /// <summary>RFC 7348 §5: 4789 is the IANA port.</summary>
    public int VxlanPort { get; set; } = 4789;

    /// <summary>
    /// The outer UDP source ports, <c>"first-last"</c>, default <c>"65472-65535"</c> (64 ports, inside
    /// RFC 7348 §5's 49152..65535 and above Linux's default ephemeral range, 32768..60999). Each inner
    /// flow leaves from one of them by its hash, for the underlay's ECMP and the receiver's RSS. The
    /// agent binds a UDP socket to each at its VTEP address to send GSO super-frames as one UDP GSO
    /// send (udp(7) UDP_SEGMENT), so the range is at most 1,024 ports; a port another process
    /// holds keeps working, its flows sent a datagram at a time.
    /// </summary>
    public string VxlanSourcePorts { get; set; } = "65472-65535";

    /// <summary><see cref="VxlanSourcePorts"/> parsed (the validator has refused a bad one before anyone reads it).</summary>
    internal Wire.SourcePortRange SourcePortRange => Wire.SourcePortRange.TryParse(VxlanSourcePorts, out var range) ? range : default;

    /// <summary>The most ports <see cref="VxlanSourcePorts"/> may name (one socket each).</summary>
    public const int MaxVxlanSourcePorts = 1024;

    public string Switch { get; set; } = string.Empty;

    /// <summary>The configured ports, in slots 0..n-1; ports attached at run time take further slots (<see cref="MaxPorts"/>).</summary>
    public List<PortBindingOptions> Ports { get; set; } = [];

    /// <summary>
    /// How many ports (configured and attached at run time) the agent holds at most, 1..4096, default
    /// 1024. Every port slot has its counters and a place in the forwarding tables from the start, so
    /// attaching never resizes anything the data plane reads; each attached port has a receive thread.
    /// </summary>
    public int MaxPorts { get; set; } = 1024;

    /// <summary>The most <see cref="MaxPorts"/> may be.</summary>
    public const int MaxPortsLimit = 4096;

    /// <summary>
    /// Optional unix socket of the local port API (HTTP/JSON; attach, detach and list ports at run
    /// time, used by the CNI plugin and hypervisor hooks), created mode 0600 so only the agent's user
    /// and root can connect. On a real host: <c>/run/fabric-agent/agent.sock</c>, the plugin's
    /// default. Unset: no local API.
    /// </summary>
    public string? LocalApiSocket { get; set; }

    /// <summary>
    /// Optional JSON file where ports attached at run time are kept, so a restarted agent restores
    /// them in their slots (<c>/var/lib/fabric-agent/ports.json</c> on a real host). Unset: runtime
    /// ports last until the agent stops. A file that cannot be read stops the agent at start (it is
    /// never overwritten with less than it holds).
    /// </summary>
    public string? RuntimePortsFile { get; set; }

    /// <summary>How local ports capture and inject frames. Defaults to <see cref="PortBackend.AfPacket"/>.</summary>
    public PortBackend PortBackend { get; set; } = PortBackend.AfPacket;

    /// <summary>
    /// Real-time priority (SCHED_FIFO, sched(7)) of the receive threads, 1..99; 0 keeps them on the
    /// normal time-sharing scheduler. Default 10: above ordinary work, below the kernel's own
    /// real-time threads (50) and watchdogs (99). A thread keeps it only while it is not saturated:
    /// above half of a 10 ms window on CPU it goes back to normal scheduling, below a quarter it is
    /// real-time again (<see cref="Ports.ReceivePriority"/>, the kernel's NAPI budget rule), so a
    /// flood cannot starve the host's workloads. Needs CAP_SYS_NICE; without it the agent logs a
    /// warning (event 3106) and forwards on normal threads. Measured (1,000 pings at 2 ms through
    /// two agents on a 2-core host): p99 2.3–4.1 ms on normal threads, 0.42–0.75 ms real-time.
    /// </summary>
    public int ReceiveRealtimePriority { get; set; } = 10;

    /// <summary>
    /// Optional network namespace (a name under /run/netns) whose interfaces and underlay the data
    /// plane uses, while the Orleans client stays in the process's own namespace. Lets one machine
    /// run several agents (the lab); on a real host leave it empty.
    /// </summary>
    public string? NetworkNamespace { get; set; }

    /// <summary>
    /// Optional: the host's interface on the physical LAN (inside <see cref="NetworkNamespace"/> if
    /// set), e.g. <c>eth0</c>, that bridged port groups (<see cref="NetworkMode.Bridged"/>) are
    /// bridged onto. Without it, bridged port groups reach nothing beyond this host's VMs.
    /// </summary>
    public string? Uplink { get; set; }

    /// <summary>If set, a JSON file rewritten every second with counters, flood lists and MAC tables.</summary>
    public string? StatusFile { get; set; }

    /// <summary>
    /// Where the agent's management endpoint listens (HTTP; <c>http://address:port</c>): its status,
    /// frame traces, port mirrors and Prometheus metrics, which the silo relays to operators. Defaults
    /// to <c>http://127.0.0.1:9650</c> (loopback: a silo on this host only); on a cluster, the host's
    /// management address, e.g. <c>http://0.0.0.0:9650</c> with <see cref="ManagementAdvertisedUrl"/>.
    /// Empty: no endpoint. It authenticates nobody yet (docs/architecture.md, "Trust"): keep it on a
    /// management network. A port that is taken is logged (event 3502) and the agent forwards without it.
    /// </summary>
    public string? ManagementUrl { get; set; } = "http://127.0.0.1:9650";

    /// <summary>
    /// The URL the agent registers for its management endpoint, for the silos to reach it. Defaults to
    /// <see cref="ManagementUrl"/>, with an unspecified address (0.0.0.0) replaced by <see cref="VtepAddress"/>.
    /// </summary>
    public string? ManagementAdvertisedUrl { get; set; }

    /// <summary>The management endpoint's URL as registered with the host grain (see <see cref="ManagementAdvertisedUrl"/>); null when there is no endpoint.</summary>
    public string? AdvertisedManagementUrl()
    {
        if (ManagementAdvertisedUrl is { Length: > 0 } advertised)
        {
            return advertised;
        }

        if (ManagementUrl is not { Length: > 0 } listen || !Uri.TryCreate(listen, UriKind.Absolute, out var uri))
        {
            return null;
        }

        return uri.Host is "0.0.0.0" or "[::]" or "*" or "+"
            ? new UriBuilder(uri) { Host = VtepAddress }.Uri.ToString().TrimEnd('/')
            : listen.TrimEnd('/');
    }

    /// <summary>
    /// Optional file where the agent keeps its last forwarding tables (rewritten at most once a
    /// second when they change, and at least every third of <see cref="ForwardingCacheMaxAge"/>,
    /// also while the cluster is unreachable), so that after a restart it forwards as soon as its
    /// ports are open, before the cluster has answered. On a real host: /var/lib/fabric-agent/forwarding.json.
    /// </summary>
    public string? ForwardingCacheFile { get; set; }

    /// <summary>Saved tables older than this are not used at start: the network may have changed meanwhile.</summary>
    public TimeSpan ForwardingCacheMaxAge { get; set; } = TimeSpan.FromSeconds(60);

    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the agent waits on one call to the cluster before it gives up and retries. It must
    /// be well inside the silos' HostLiveness:DeadAfter (15 s by default): a call stuck on a silo
    /// that was just killed must not keep the agent from being heard until it is declared dead. The
    /// call itself lives on until Orleans' response timeout (30 s), so a slow silo still answers.
    /// </summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often observer subscriptions are renewed; must be well inside the grains' expiry.</summary>
    public TimeSpan SubscriptionRefreshInterval { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How often newly learned MACs are published to the MAC table grains, as one batch per VNI.</summary>
    public TimeSpan LearnPublishInterval { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>A learned local MAC not seen for this long is forgotten (802.1Q default ageing time).</summary>
    public TimeSpan MacAgingTime { get; set; } = TimeSpan.FromSeconds(300);
}

internal sealed class AgentOptionsValidator : IValidateOptions<AgentOptions>
{
    public ValidateOptionsResult Validate(string? name, AgentOptions options)
    {
        var failures = new List<string>();
        string s = AgentOptions.SectionName;
        if (!FabricNames.IsValid(options.HostId))
        {
            failures.Add($"{s}:HostId '{options.HostId}' is not a valid name (1..64 letters, digits, '.', '_', '-').");
        }

        if (!IPAddress.TryParse(options.VtepAddress, out var vtep) || vtep.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
        {
            failures.Add($"{s}:VtepAddress '{options.VtepAddress}' is not an IPv4 address.");
        }

        if (options.VxlanPort is < 1 or > 65535)
        {
            failures.Add($"{s}:VxlanPort must be 1..65535 (was {options.VxlanPort}).");
        }

        if (!Wire.SourcePortRange.TryParse(options.VxlanSourcePorts, out var sourcePorts) || sourcePorts.Count > AgentOptions.MaxVxlanSourcePorts)
        {
            failures.Add($"{s}:VxlanSourcePorts '{options.VxlanSourcePorts}' must be 'first-last' within 1..65535, at most {AgentOptions.MaxVxlanSourcePorts} ports (e.g. '65472-65535').");
        }

        if (!FabricNames.IsValid(options.Switch))
        {
            failures.Add($"{s}:Switch '{options.Switch}' is not a valid switch name.");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < options.Ports.Count; i++)
        {
            var port = options.Ports[i];
            if (string.IsNullOrWhiteSpace(port.Interface) || port.Interface.Length > 15)
            {
                failures.Add($"{s}:Ports:{i}:Interface '{port.Interface}' is not an interface name (1..15 characters).");
            }
            else if (!seen.Add(port.Interface))
            {
                failures.Add($"{s}:Ports:{i}:Interface '{port.Interface}' is listed twice.");
            }

            if (!FabricNames.IsValid(port.PortGroup))
            {
                failures.Add($"{s}:Ports:{i}:PortGroup '{port.PortGroup}' is not a valid port group name.");
            }

            if (port.Vlan is { } vlan && !vlan.TryGetPolicy(out _, out string? vlanError))
            {
                failures.Add($"{s}:Ports:{i}:Vlan: {vlanError}");
            }

            if (port.Mac is { Length: > 0 } mac && !(Addressing.MacAddress.TryParse(mac, out var parsed) && parsed.IsValidUnicast))
            {
                failures.Add($"{s}:Ports:{i}:Mac '{mac}' is not a unicast MAC address (xx:xx:xx:xx:xx:xx, not multicast, not zero).");
            }
        }

        if (options.MaxPorts is < 1 or > AgentOptions.MaxPortsLimit || options.MaxPorts < options.Ports.Count)
        {
            failures.Add($"{s}:MaxPorts must be 1..{AgentOptions.MaxPortsLimit} and at least the number of configured ports ({options.Ports.Count}); was {options.MaxPorts}.");
        }

        if (options.LocalApiSocket is { Length: > 0 } socket && (socket.Length > 107 || !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(socket)))))
        {
            failures.Add($"{s}:LocalApiSocket '{socket}': its directory must exist and the path be at most 107 bytes (unix(7) sun_path).");
        }

        if (options.RuntimePortsFile is { Length: > 0 } portsFile && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(portsFile))))
        {
            failures.Add($"{s}:RuntimePortsFile '{portsFile}': its directory does not exist.");
        }

        if (!Enum.IsDefined(options.PortBackend))
        {
            failures.Add($"{s}:PortBackend must be AfPacket or Pcap.");
        }

        if (options.ReceiveRealtimePriority is < 0 or > 99)
        {
            failures.Add($"{s}:ReceiveRealtimePriority must be 0 (normal scheduling) or 1..99 (SCHED_FIFO priority); was {options.ReceiveRealtimePriority}.");
        }

        if (options.NetworkNamespace is { Length: > 0 } ns && !File.Exists(Path.Combine("/run/netns", ns)))
        {
            failures.Add($"{s}:NetworkNamespace '{ns}' does not exist (no /run/netns/{ns}).");
        }

        if (options.HeartbeatInterval <= TimeSpan.Zero || options.SubscriptionRefreshInterval <= TimeSpan.Zero
            || options.LearnPublishInterval <= TimeSpan.Zero || options.MacAgingTime <= TimeSpan.Zero
            || options.CallTimeout <= TimeSpan.Zero || options.ForwardingCacheMaxAge <= TimeSpan.Zero)
        {
            failures.Add($"{s}: intervals, CallTimeout, ForwardingCacheMaxAge and MacAgingTime must be positive.");
        }

        foreach (var (key, url) in new[] { ("ManagementUrl", options.ManagementUrl), ("ManagementAdvertisedUrl", options.ManagementAdvertisedUrl) })
        {
            if (url is { Length: > 0 } && !(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme == "http" && uri.AbsolutePath == "/" && url.Length <= 256))
            {
                failures.Add($"{s}:{key} '{url}' must be http://address:port (at most 256 characters).");
            }
        }

        if (options.ForwardingCacheFile is { Length: > 0 } cache && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(cache))))
        {
            failures.Add($"{s}:ForwardingCacheFile '{cache}': its directory does not exist.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
