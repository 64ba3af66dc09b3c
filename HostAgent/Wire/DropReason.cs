namespace Fabric.HostAgent.Wire;

/// <summary>
/// Why a codec refused a frame. Decoders never throw on bad input: they return <c>false</c> and one
/// of these, so the data plane can count drops per reason without a log line per frame.
/// </summary>
internal enum DropReason : byte
{
    /// <summary>Not dropped.</summary>
    None = 0,

    /// <summary>Fewer bytes than a header (or a length field inside it) says there are.</summary>
    Truncated,

    /// <summary>802.1ad (0x88A8), pre-standard QinQ (0x9100) or two stacked 0x8100 tags: a VLAN hopping attempt on a port that expects at most one tag.</summary>
    StackedVlanTags,

    /// <summary>An 802.1Q tag carrying VID 4095, which IEEE 802.1Q-2018 Table 9-2 reserves.</summary>
    ReservedVlanId,

    /// <summary>A tag was to be popped from a frame that carries none.</summary>
    NotTagged,

    /// <summary>ARP that is not IPv4 over Ethernet (htype 1, ptype 0x0800, hlen 6, plen 4) or not a request/reply.</summary>
    UnsupportedArp,

    /// <summary>IPv4 version field is not 4.</summary>
    BadIpVersion,

    /// <summary>IPv4 IHL below 5 (a header is at least 20 bytes, RFC 791 §3.1).</summary>
    BadIhl,

    /// <summary>IPv4 total length smaller than the header it must contain.</summary>
    BadTotalLength,

    /// <summary>IPv4 header checksum does not verify (RFC 791 §3.1, RFC 1071).</summary>
    BadChecksum,

    /// <summary>UDP length below 8 or not equal to the IPv4 payload that carries it.</summary>
    BadUdpLength,

    /// <summary>A non-zero UDP checksum that does not verify over the pseudo-header (RFC 768).</summary>
    BadUdpChecksum,

    /// <summary>Outer frame is not IPv4.</summary>
    NotIpv4,

    /// <summary>Outer IPv4 packet is not UDP.</summary>
    NotUdp,

    /// <summary>Outer UDP destination port is not the VXLAN port.</summary>
    NotVxlanPort,

    /// <summary>Outer IPv4 packet is a fragment; a VTEP does not reassemble (RFC 7348 §4.3).</summary>
    Fragmented,

    /// <summary>VXLAN I flag not set (RFC 7348 §5: "The I flag MUST be set to 1 for a valid VNI").</summary>
    BadVxlanFlags,

    /// <summary>VNI 0, which Fabric does not use for any segment.</summary>
    BadVni,

    /// <summary>The inner frame is shorter than an Ethernet header (14 bytes).</summary>
    InnerFrameTooShort,

    /// <summary>The inner frame would make the outer IPv4 packet exceed 65535 bytes.</summary>
    InnerFrameTooLong,

    /// <summary>The caller's buffer cannot hold what was to be written.</summary>
    DestinationTooSmall,

    /// <summary>
    /// A frame's offload request (its <c>virtio_net_hdr</c>) cannot be carried out: a checksum
    /// position outside the frame, a GSO type this agent does not segment (UFO, IP fragmentation
    /// offload), a GSO frame whose headers are not IPv4/IPv6 with TCP or UDP, or a segment size of 0.
    /// </summary>
    BadOffload,

    /// <summary>A UDP GSO frame whose datagrams, each of a fixed size, do not fit the segment's MTU.</summary>
    SegmentTooLong,

    /// <summary>
    /// A BOOTP payload that is not DHCP: an op other than BOOTREQUEST (1) or BOOTREPLY (2), no magic
    /// cookie 99.130.83.99 after the fixed header (RFC 2131 §3), or no DHCP Message Type option 53,
    /// which every DHCP message carries (RFC 2131 §3, RFC 2132 §9.6).
    /// </summary>
    NotDhcp,

    /// <summary>
    /// DHCP this agent does not serve: a hardware type other than Ethernet (htype 1, hlen 6), option
    /// overload into sname/file (option 52, RFC 2132 §9.3), or a message type outside 1..8.
    /// </summary>
    UnsupportedDhcp,

    /// <summary>
    /// A DHCP option whose length does not fit its code (RFC 2132: 4 for an address or a lease time,
    /// 1 for the message type, at least 2 for a client identifier), or such an option given twice.
    /// </summary>
    BadDhcpOption,
}
