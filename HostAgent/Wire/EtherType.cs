namespace Fabric.HostAgent.Wire;

/// <summary>EtherType and TPID values (IEEE Registration Authority) the data plane cares about.</summary>
internal static class EtherType
{
    public const ushort Ipv4 = 0x0800;
    public const ushort Arp = 0x0806;

    /// <summary>IEEE 802.1Q customer VLAN tag (C-tag) TPID.</summary>
    public const ushort Vlan = 0x8100;

    /// <summary>IEEE 802.1ad service VLAN tag (S-tag, "QinQ") TPID.</summary>
    public const ushort ServiceVlan = 0x88A8;

    /// <summary>Pre-standard QinQ TPID some switches still emit; treated like 802.1ad.</summary>
    public const ushort LegacyQinQ = 0x9100;

    public const ushort Ipv6 = 0x86DD;
}

/// <summary>IANA protocol numbers carried in the IPv4 Protocol field.</summary>
internal static class IpProtocol
{
    /// <summary>ICMP for IPv4 (RFC 792).</summary>
    public const byte Icmp = 1;

    public const byte Tcp = 6;

    /// <summary>IPv6 next header of ICMPv6 (RFC 4443).</summary>
    public const byte IcmpV6 = 58;
    public const byte Udp = 17;
    public const byte Sctp = 132;
}
