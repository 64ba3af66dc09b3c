using Fabric.Addressing;

namespace Fabric.Grains;

/// <summary>What an operator sets on a switch as a whole.</summary>
/// <param name="Mtu">
/// The MTU of the switch's ports in bytes (the IP MTU of the guests' interfaces),
/// <see cref="MinMtu"/>..<see cref="MaxMtu"/>. VXLAN adds 50 bytes on the underlay (RFC 7348 §5),
/// so on a 1500-byte underlay it is 1450. Recorded and shown; the agent does not enforce it yet.
/// </param>
[GenerateSerializer, Immutable, Alias("fabric.switch-settings")]
public sealed record SwitchSettings([property: Id(0)] int Mtu)
{
    /// <summary>576 bytes, the datagram size every IPv4 host must accept (RFC 791).</summary>
    public const int MinMtu = 576;

    /// <summary>9216 bytes, a common jumbo-frame limit of physical switches.</summary>
    public const int MaxMtu = 9216;
}

/// <summary>
/// A switch's whole configuration. <see cref="Version"/> is the configuration generation: it grows
/// by one on every change, and agents report the generation they have applied (OVN's
/// nb_cfg/hv_cfg idea), so the API can tell when a change is applied on every live host.
/// </summary>
/// <param name="Name">The switch name (the grain key).</param>
/// <param name="Mtu">The switch's MTU in bytes; see <see cref="SwitchSettings.Mtu"/>.</param>
/// <param name="Version">The configuration generation: 1 after the first creation, + 1 per change; it never goes back, not even across a delete.</param>
/// <param name="PortGroups">The port groups, in name order (ordinal).</param>
/// <param name="Members">The member hosts and their uplinks, in host id order (ordinal).</param>
/// <param name="Mirrors">The remote port mirroring sessions, in name order (ordinal); null reads as none (a configuration from before they existed).</param>
[GenerateSerializer, Immutable, Alias("fabric.switch-config")]
public sealed record SwitchConfig(
    [property: Id(0)] string Name,
    [property: Id(1)] int Mtu,
    [property: Id(2)] long Version,
    [property: Id(3)] IReadOnlyList<PortGroup> PortGroups,
    [property: Id(4)] IReadOnlyList<SwitchMember> Members,
    [property: Id(5)] IReadOnlyList<MirrorSession>? Mirrors = null);

/// <summary>A host that is a member of the switch, with the uplink interface it uses for the underlay.</summary>
/// <param name="HostId">The host id.</param>
/// <param name="Uplink">The host's underlay interface name.</param>
[GenerateSerializer, Immutable, Alias("fabric.switch-member")]
public sealed record SwitchMember([property: Id(0)] string HostId, [property: Id(1)] string Uplink);

/// <summary>A port group, validated and normalised: ports attached to it are in the VXLAN segment <see cref="Vni"/>.</summary>
/// <param name="Name">The port group name, unique on its switch.</param>
/// <param name="Vni">The segment, 1..16777215, held by this port group alone in the whole fabric.</param>
/// <param name="Vlan">How ports of the group handle 802.1Q tags; never null.</param>
/// <param name="Security">The port security policy; never null.</param>
/// <param name="ReservedGroupForwardMask">
/// Which IEEE 802.1Q reserved group addresses 01-80-C2-00-00-0X (§8.6.3, Table 8-1: STP, LACP,
/// EAPOL, LLDP, ...) the segment forwards: bit X set forwards X, like Linux's bridge
/// <c>group_fwd_mask</c>. 0, the default, forwards none, as a bridge does. Bit 1 (PAUSE, 802.3 MAC
/// control) is never set: no bridge forwards it.
/// </param>
/// <param name="Ipv4">The port group's IPv4 addressing for IPAM (<see cref="IIpamGrain"/>), or null for none.</param>
/// <param name="Routed">
/// Whether the port group is in its switch's routing domain: every host is the gateway of its own
/// VMs (an anycast gateway: <see cref="Ipv4Pool.Gateway"/> answers ARP with <see cref="GatewayMac"/>
/// on every host) and routes between the routed port groups of the switch at ingress, into the
/// destination's VNI (EVPN asymmetric IRB, RFC 9135 §4). Needs <see cref="Ipv4"/> with a gateway.
/// A port group that is not routed is reached by no other port group.
/// </param>
/// <param name="Network">How the port group's segment reaches beyond its VMs (<see cref="NetworkMode"/>); <see cref="NetworkMode.Overlay"/> by default.</param>
/// <param name="PortForwards">A <see cref="NetworkMode.Nat"/> port group's port forwards (DNAT from the host's addresses); empty otherwise, never null once validated.</param>
/// <param name="UplinkVlan">A <see cref="NetworkMode.Bridged"/> port group's VLAN on the host's uplink (IEEE 802.1Q tag added and removed by the agent), or null for untagged.</param>
[GenerateSerializer, Immutable, Alias("fabric.port-group")]
public sealed record PortGroup(
    [property: Id(0)] string Name,
    [property: Id(1)] Vni Vni,
    [property: Id(2)] VlanPolicy Vlan,
    [property: Id(3)] SecurityPolicy Security,
    [property: Id(4)] ushort ReservedGroupForwardMask = 0,
    [property: Id(5)] Ipv4Pool? Ipv4 = null,
    [property: Id(6)] bool Routed = false,
    [property: Id(7)] NetworkMode Network = NetworkMode.Overlay,
    [property: Id(8)] IReadOnlyList<PortForward>? PortForwards = null,
    [property: Id(9)] VlanId? UplinkVlan = null)
{
    /// <summary>The port forwards, never null.</summary>
    public IReadOnlyList<PortForward> Forwards => PortForwards ?? [];

    /// <summary>
    /// Whether the segment is private to each host (<see cref="NetworkMode.HostOnly"/>,
    /// <see cref="NetworkMode.Nat"/>, <see cref="NetworkMode.Bridged"/>): nothing of it is tunnelled,
    /// its MACs are not published, and a VM of it on another host is on another network.
    /// </summary>
    public bool IsHostLocal => Network != NetworkMode.Overlay;

    /// <summary>
    /// The anycast gateway's MAC, 0a:fa:b0:00:00:01, the same on every host and for every routed port
    /// group of the fabric (locally administered, unicast; IEEE 802 U/L and I/G bits), as an EVPN
    /// fabric's anycast gateway MAC is (RFC 9135 §4.1). A VM keeps its gateway's ARP entry when it
    /// moves to another host.
    /// </summary>
    public static MacAddress GatewayMac { get; } = new(0x0AFA_B000_0001UL);

    /// <summary>Bit 1 of <see cref="ReservedGroupForwardMask"/>: 01-80-C2-00-00-01, 802.3 PAUSE frames, which are never forwarded.</summary>
    public const ushort PauseBit = 1 << 1;
}

/// <summary>What an operator gives for a port group (<see cref="ISwitchGrain.SetPortGroupAsync"/>).</summary>
/// <param name="Vni">The segment, 1..16777215 (RFC 7348 §5), not held by another port group.</param>
/// <param name="Vlan">The VLAN policy; null means <see cref="VlanPolicy.Untagged"/>.</param>
/// <param name="Security">The security policy; null means <see cref="SecurityPolicy.Default"/>.</param>
/// <param name="ReservedGroupForwardMask">See <see cref="PortGroup.ReservedGroupForwardMask"/>; null means 0, none. Bit 1 (PAUSE) is refused.</param>
/// <param name="Ipv4">The IPv4 addressing for IPAM; null means none. Its subnet must not overlap another port group's on the switch.</param>
/// <param name="Routed">See <see cref="PortGroup.Routed"/>; null means false. True needs <paramref name="Ipv4"/> with a gateway and the overlay network (field <c>routed</c>).</param>
/// <param name="Network">See <see cref="PortGroup.Network"/>; null means overlay. Host-only and NAT need <paramref name="Ipv4"/> with a gateway (the host's address on the network) (field <c>network</c>).</param>
/// <param name="PortForwards">NAT only: the port forwards (fields <c>portForwards[i].protocol</c>, <c>.hostPort</c>, <c>.vmAddress</c>, <c>.vmPort</c>).</param>
/// <param name="UplinkVlan">Bridged only: the VLAN on the uplink (field <c>bridged.uplinkVlan</c>).</param>
[GenerateSerializer, Immutable, Alias("fabric.port-group-spec")]
public sealed record PortGroupSpec(
    [property: Id(0)] Vni Vni,
    [property: Id(1)] VlanPolicy? Vlan = null,
    [property: Id(2)] SecurityPolicy? Security = null,
    [property: Id(3)] ushort? ReservedGroupForwardMask = null,
    [property: Id(4)] Ipv4PoolSpec? Ipv4 = null,
    [property: Id(5)] bool? Routed = null,
    [property: Id(6)] NetworkMode? Network = null,
    [property: Id(7)] IReadOnlyList<PortForward>? PortForwards = null,
    [property: Id(8)] VlanId? UplinkVlan = null);

/// <summary>How a port group's segment reaches beyond its VMs, as a hypervisor's vNIC modes do.</summary>
[GenerateSerializer, Alias("fabric.network-mode")]
public enum NetworkMode
{
    /// <summary>A VXLAN segment across every host of the switch (the default).</summary>
    Overlay = 0,

    /// <summary>
    /// Private to each host: its VMs on one host and the host's own gateway address
    /// (<see cref="Ipv4Pool.Gateway"/> on a host interface) reach each other; nothing is tunnelled,
    /// nothing is forwarded off the host.
    /// </summary>
    HostOnly = 1,

    /// <summary>
    /// Private to each host like <see cref="HostOnly"/>, and the host forwards its VMs' outbound
    /// connections with the host's address (masquerade by the kernel's nftables and conntrack);
    /// nothing outside opens a connection to a VM unless a <see cref="PortForward"/> says so.
    /// </summary>
    Nat = 2,

    /// <summary>
    /// On the physical LAN through the host's uplink (<c>Fabric:Agent:Uplink</c>), untagged or in
    /// <see cref="PortGroup.UplinkVlan"/>: VM frames leave untunnelled, VMs take their addresses from
    /// the LAN's DHCP server and any machine on the LAN reaches them.
    /// </summary>
    Bridged = 3,
}

/// <summary>The API's names of the network modes: <c>overlay</c>, <c>hostOnly</c>, <c>nat</c>, <c>bridged</c>.</summary>
public static class NetworkModes
{
    /// <summary>The mode's name, e.g. <c>hostOnly</c>.</summary>
    public static string Name(NetworkMode mode) => mode switch
    {
        NetworkMode.HostOnly => "hostOnly",
        NetworkMode.Nat => "nat",
        NetworkMode.Bridged => "bridged",
        _ => "overlay",
    };

    /// <summary>The mode named <paramref name="name"/> (exactly as <see cref="Name"/> writes it); false for any other text.</summary>
    public static bool TryParse(string? name, out NetworkMode mode)
    {
        foreach (var candidate in Enum.GetValues<NetworkMode>())
        {
            if (Name(candidate) == name)
            {
                mode = candidate;
                return true;
            }
        }

        mode = NetworkMode.Overlay;
        return false;
    }
}

/// <summary>A NAT port forward: connections to the host's <paramref name="HostPort"/> go to <paramref name="VmAddress"/>:<paramref name="VmPort"/>.</summary>
/// <param name="Protocol">"tcp" or "udp".</param>
/// <param name="HostPort">1..65535, unique per protocol on the switch.</param>
/// <param name="VmAddress">A host address of the port group's subnet.</param>
/// <param name="VmPort">1..65535.</param>
[GenerateSerializer, Immutable, Alias("fabric.port-forward")]
public sealed record PortForward(
    [property: Id(0)] string Protocol,
    [property: Id(1)] int HostPort,
    [property: Id(2)] System.Net.IPAddress VmAddress,
    [property: Id(3)] int VmPort);

/// <summary>How a port group's ports treat IEEE 802.1Q tags.</summary>
[GenerateSerializer, Alias("fabric.vlan-mode")]
public enum VlanMode
{
    /// <summary>
    /// The port carries the port group's own segment, untagged: a tagged frame from the guest is
    /// dropped (a priority-tagged frame, VID 0, counts as untagged), and frames to the guest go
    /// untagged. <see cref="VlanPolicy.AccessVlan"/>, if set, is the VLAN id under which the port
    /// group's segment travels on trunk ports.
    /// </summary>
    Access = 0,

    /// <summary>
    /// The port carries several segments, told apart by 802.1Q tags: a tagged frame whose VLAN id is
    /// in <see cref="VlanPolicy.TrunkRanges"/> and is the <see cref="VlanPolicy.AccessVlan"/> of an
    /// access port group of the same switch goes into that port group's segment, and frames from it
    /// come back tagged; any other tagged frame is dropped. Untagged frames belong to the native
    /// VLAN's port group if <see cref="VlanPolicy.NativeVlan"/> is set (and are dropped if no port
    /// group has that VLAN), otherwise to this port group's own segment.
    /// </summary>
    Trunk = 1,
}

/// <summary>
/// VLAN handling of a port group (IEEE 802.1Q; VLAN ids 1..4094). Access: <see cref="AccessVlan"/>
/// optional, no trunk ranges, no native VLAN. Trunk: no access VLAN, one or more ranges that do not
/// overlap, and an optional native VLAN inside them. The switch refuses anything else with
/// <see cref="FabricValidationException"/> naming the field (<c>vlan.mode</c>,
/// <c>vlan.accessVlan</c>, <c>vlan.trunkRanges</c>, <c>vlan.nativeVlan</c>).
/// </summary>
/// <param name="Mode">Access or trunk; see <see cref="VlanMode"/>.</param>
/// <param name="AccessVlan">Access only: the VLAN id under which the port group is carried on trunks; unique on the switch; null for none.</param>
/// <param name="TrunkRanges">Trunk only: the VLAN ids the trunk carries; sorted by the switch. Empty for access.</param>
/// <param name="NativeVlan">Trunk only: the VLAN whose port group takes untagged frames; inside a trunk range; null for none.</param>
[GenerateSerializer, Immutable, Alias("fabric.vlan-policy")]
public sealed record VlanPolicy(
    [property: Id(0)] VlanMode Mode,
    [property: Id(1)] VlanId? AccessVlan,
    [property: Id(2)] IReadOnlyList<VlanRange> TrunkRanges,
    [property: Id(3)] VlanId? NativeVlan)
{
    /// <summary>Access, no VLAN id: the default.</summary>
    public static VlanPolicy Untagged { get; } = new(VlanMode.Access, null, [], null);

    /// <summary>An access port group carried on trunks as <paramref name="vlan"/>.</summary>
    /// <param name="vlan">The VLAN id, 1..4094.</param>
    /// <returns>The policy.</returns>
    public static VlanPolicy AccessOn(VlanId vlan) => new(VlanMode.Access, vlan, [], null);

    /// <summary>A trunk carrying <paramref name="ranges"/>.</summary>
    /// <param name="ranges">One or more VLAN ranges that do not overlap.</param>
    /// <param name="native">The native VLAN, inside the ranges; null for none.</param>
    /// <returns>The policy.</returns>
    public static VlanPolicy Trunk(IReadOnlyList<VlanRange> ranges, VlanId? native = null) => new(VlanMode.Trunk, null, ranges, native);
}

/// <summary>An inclusive range of VLAN ids (IEEE 802.1Q, 1..4094).</summary>
/// <param name="First">The first id of the range.</param>
/// <param name="Last">The last id, not below <paramref name="First"/>; equal for a single VLAN.</param>
[GenerateSerializer, Immutable, Alias("fabric.vlan-range")]
public sealed record VlanRange([property: Id(0)] VlanId First, [property: Id(1)] VlanId Last);

/// <summary>Port security, as on a vSphere distributed port group.</summary>
/// <param name="MacLimit">
/// How many source MACs each port of the group may use, <see cref="MinMacLimit"/>..<see cref="MaxMacLimit"/>;
/// the agent drops frames from further new MACs (counted as <c>MacLimitExceeded</c>).
/// </param>
/// <param name="AllowForgedTransmits">Recorded; not enforced by the agent yet.</param>
/// <param name="AllowPromiscuous">Recorded; not enforced by the agent yet.</param>
[GenerateSerializer, Immutable, Alias("fabric.security-policy")]
public sealed record SecurityPolicy(
    [property: Id(0)] int MacLimit,
    [property: Id(1)] bool AllowForgedTransmits,
    [property: Id(2)] bool AllowPromiscuous)
{
    /// <summary>The lowest MAC limit, 1.</summary>
    public const int MinMacLimit = 1;

    /// <summary>The highest MAC limit, 4096.</summary>
    public const int MaxMacLimit = 4096;

    /// <summary>64 MACs per port, no forged transmits, no promiscuous mode.</summary>
    public static SecurityPolicy Default { get; } = new(64, false, false);
}
