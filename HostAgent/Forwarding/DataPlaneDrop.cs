namespace Fabric.HostAgent.Forwarding;

/// <summary>Why the data plane dropped a frame or datagram; each is counted per port and per VNI.</summary>
internal enum DataPlaneDrop
{
    /// <summary>The frame or datagram did not parse (the codec's own reason is counted separately).</summary>
    Malformed,

    /// <summary>An 802.1Q-tagged frame on an access port.</summary>
    TaggedOnAccessPort,

    /// <summary>Two stacked tags (QinQ, 802.1ad): VLAN hopping is never forwarded.</summary>
    StackedVlanTags,

    /// <summary>A trunk frame whose VID is not in the port's trunk ranges, or untagged without a native VLAN.</summary>
    VlanNotAllowed,

    /// <summary>The port's port group is not (yet) known, so the frame has no VNI.</summary>
    NoSegment,

    /// <summary>Multicast or all-zero source MAC.</summary>
    InvalidSourceMac,

    /// <summary>A new source MAC beyond the port group's MAC limit (port security).</summary>
    MacLimitExceeded,

    /// <summary>Unicast to a MAC learned on the port it came from.</summary>
    Hairpin,

    /// <summary>A VXLAN datagram for a VNI this host has no port in.</summary>
    UnknownVni,

    /// <summary>A VXLAN datagram whose outer source is not a VTEP of the segment.</summary>
    NotAVtepOfSegment,

    /// <summary>An inner frame carrying an 802.1Q tag (RFC 7348 §6.1: decapsulated frames with an inner VLAN tag are discarded).</summary>
    InnerVlanTagged,

    /// <summary>The frame, encapsulated, would exceed what can be sent.</summary>
    TooLong,

    /// <summary>The kernel refused to send or inject.</summary>
    SendFailed,

    /// <summary>
    /// Port security, forged transmits rejected: the source MAC is not the port's effective MAC (the
    /// one configured on the port, or on an access port without one the first MAC learned there).
    /// </summary>
    ForgedTransmit,

    /// <summary>
    /// A frame to an IEEE 802.1Q reserved group address 01-80-C2-00-00-00..0F (§8.6.3, Table 8-1:
    /// STP, PAUSE, LACP, EAPOL, LLDP, ...), which a bridge never forwards unless the port group opts in.
    /// </summary>
    ReservedGroupAddress,

    /// <summary>A VXLAN datagram whose outer source is this host's own VTEP address.</summary>
    FromOwnVtep,

    /// <summary>
    /// A frame to the anycast gateway that cannot be routed: not IPv4, to a broadcast or multicast
    /// address, or from a source address outside the ingress port group's subnet (strict reverse-path
    /// check, RFC 3704 §2.2: a VM cannot route with another subnet's address).
    /// </summary>
    NotRoutable,

    /// <summary>
    /// A routed packet whose destination address has no binding yet: the gateway asked for it with
    /// ARP in the destination segment and dropped the packet, as a router with an incomplete
    /// neighbour entry does; the sender's retransmission gets through once the VM answered.
    /// </summary>
    RouteUnresolved,

    /// <summary>A routed packet larger than the egress MTU without DF set: the gateway does not fragment (RFC 1812 §4.2.2.7 allows that only with DF; this is a limitation).</summary>
    FragmentationUnsupported,

    /// <summary>A DHCP client message on a segment that serves DHCP that the agent's DHCP server could not take (its queue full, or no server): the client retransmits (RFC 2131 §4.1).</summary>
    DhcpUnserved,

    /// <summary>A unicast frame from the uplink of bridged port groups to a MAC that is not one of this host's VMs (the underlay's own traffic, other machines of the LAN).</summary>
    UplinkNotForThisHost,
}
