using System.Text.Json.Serialization;
using Fabric.HostAgent.Configuration;

namespace Fabric.HostAgent.LocalPorts;

/// <summary>
/// A local interface attached to a port group of the agent's switch: configured
/// (<c>Fabric:Agent:Ports</c>, slots 0..n-1 in configuration order) or attached at run time through
/// the local port API (a CNI ADD, a hypervisor hook) and kept in <see cref="AgentOptions.RuntimePortsFile"/>.
/// </summary>
internal sealed record LocalPort
{
    /// <summary>The port's slot, 0..<see cref="AgentOptions.MaxPorts"/>-1: its index in the forwarding tables, counters and local MAC table, kept while it is attached and across restarts.</summary>
    public required int Slot { get; init; }

    /// <summary>The interface name on this host (inside the agent's network namespace if set), 1..15 characters.</summary>
    public required string Interface { get; init; }

    /// <summary>The port group of the agent's switch.</summary>
    public required string PortGroup { get; init; }

    /// <summary>The MAC of the VM or container interface behind the port, <c>xx:xx:xx:xx:xx:xx</c>; null when not given (the first MAC learned is the port's, see port security).</summary>
    public string? Mac { get; init; }

    /// <summary>The IPv4 addresses (dotted quads, no prefix) the workload behind the port was given, published as its MAC's bindings for ARP suppression from the moment it attaches.</summary>
    public IReadOnlyList<string> Ipv4 { get; init; } = [];

    /// <summary>The port's own VLAN policy, overriding its port group's; null to follow the port group.</summary>
    public PortVlanOptions? Vlan { get; init; }

    /// <summary>Who attached it, for GC and operators: <c>{containerId}/{ifName}</c> for the CNI plugin (the attachment's identity, as IPAM records it); null for a configured port or when not said.</summary>
    public string? Owner { get; init; }

    /// <summary>True for a port from the configuration: it cannot be detached through the API.</summary>
    public bool Configured { get; init; }

    /// <summary>When it was attached (UTC).</summary>
    public DateTimeOffset AttachedAt { get; init; }

    /// <summary>The owner of a host-only or NAT network's gateway port, which the agent plumbs itself (<see cref="PortRole.Gateway"/>).</summary>
    public const string GatewayOwner = "fabric:gateway";

    /// <summary>The owner of the uplink port of bridged port groups, which the agent attaches itself (<see cref="PortRole.Uplink"/>).</summary>
    public const string UplinkOwner = "fabric:uplink";

    /// <summary>What the port is to the fabric, from its owner.</summary>
    [JsonIgnore]
    public PortRole Role => Owner switch { GatewayOwner => PortRole.Gateway, UplinkOwner => PortRole.Uplink, _ => PortRole.Workload };

    /// <summary>The binding the forwarding tables are built from.</summary>
    [JsonIgnore]
    public PortBindingOptions Binding => new() { Interface = Interface, PortGroup = PortGroup, Mac = Mac, Vlan = Vlan, Role = Role };
}
