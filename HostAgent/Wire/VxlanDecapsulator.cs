using System.Runtime.CompilerServices;
using Fabric.Addressing;

namespace Fabric.HostAgent.Wire;

/// <summary>
/// What <see cref="VxlanDecapsulator.TryDecapsulateFrame"/> found in a full outer frame. Addresses
/// are host-order <see cref="uint"/>s; <see cref="InnerFrame"/> is a slice of the input, not a copy.
/// </summary>
internal readonly ref struct VxlanPacket
{
    public VxlanPacket(
        MacAddress outerSourceMac,
        MacAddress outerDestinationMac,
        uint outerSource,
        uint outerDestination,
        ushort sourcePort,
        ushort destinationPort,
        Vni vni,
        ReadOnlySpan<byte> innerFrame)
    {
        OuterSourceMac = outerSourceMac;
        OuterDestinationMac = outerDestinationMac;
        OuterSource = outerSource;
        OuterDestination = outerDestination;
        SourcePort = sourcePort;
        DestinationPort = destinationPort;
        Vni = vni;
        InnerFrame = innerFrame;
    }

    public MacAddress OuterSourceMac { get; }

    public MacAddress OuterDestinationMac { get; }

    /// <summary>The sending VTEP's underlay address: the data plane accepts the frame only if it is in the segment's flood list.</summary>
    public uint OuterSource { get; }

    public uint OuterDestination { get; }

    public ushort SourcePort { get; }

    public ushort DestinationPort { get; }

    public Vni Vni { get; }

    public ReadOnlySpan<byte> InnerFrame { get; }
}

/// <summary>
/// Validates and strips VXLAN encapsulation (RFC 7348 §5). Never throws on malformed input.
/// </summary>
[SkipLocalsInit]
internal static class VxlanDecapsulator
{
    /// <summary>
    /// For the VTEP socket, which receives only the UDP payload: the VXLAN header and the inner frame.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryDecapsulate(ReadOnlySpan<byte> udpPayload, out Vni vni, out ReadOnlySpan<byte> innerFrame, out DropReason reason)
    {
        innerFrame = default;
        if (!VxlanHeader.TryRead(udpPayload, out vni, out reason))
        {
            return false;
        }

        ReadOnlySpan<byte> inner = udpPayload.Slice(VxlanHeader.Length);
        if (inner.Length < EthernetFrame.HeaderLength)
        {
            vni = default;
            reason = DropReason.InnerFrameTooShort;
            return false;
        }

        innerFrame = inner;
        return true;
    }

    /// <summary>
    /// For a whole outer frame (a raw socket or a capture): outer Ethernet (optionally 802.1Q-tagged
    /// on the underlay), IPv4 with a valid header checksum and no fragmentation, UDP to
    /// <paramref name="vxlanPort"/> whose length matches the IPv4 payload and whose checksum, if
    /// non-zero, verifies; then the VXLAN header and inner frame.
    /// </summary>
    public static bool TryDecapsulateFrame(ReadOnlySpan<byte> outerFrame, out VxlanPacket packet, out DropReason reason, ushort vxlanPort = VxlanHeader.DefaultPort)
    {
        packet = default;
        if (!EthernetFrame.TryParse(outerFrame, out var ethernet, out reason))
        {
            return false;
        }

        if (ethernet.EtherType != EtherType.Ipv4)
        {
            reason = DropReason.NotIpv4;
            return false;
        }

        if (!Ipv4Packet.TryParse(ethernet.Payload, out var ipv4, out reason))
        {
            return false;
        }

        if (ipv4.Protocol != IpProtocol.Udp)
        {
            reason = DropReason.NotUdp;
            return false;
        }

        if (ipv4.IsFragment)
        {
            reason = DropReason.Fragmented;
            return false;
        }

        ReadOnlySpan<byte> ipPayload = ipv4.Payload;
        if (!UdpDatagram.TryParse(ipPayload, out var udp, out reason))
        {
            // The IPv4 total length was honoured, so a UDP length beyond it is a bad length, not a short read.
            if (reason == DropReason.Truncated && ipPayload.Length >= UdpDatagram.HeaderLength)
            {
                reason = DropReason.BadUdpLength;
            }

            return false;
        }

        if (udp.Length != ipPayload.Length)
        {
            reason = DropReason.BadUdpLength;
            return false;
        }

        if (udp.DestinationPort != vxlanPort)
        {
            reason = DropReason.NotVxlanPort;
            return false;
        }

        if (!udp.ChecksumIsValid(ipv4.Source, ipv4.Destination))
        {
            reason = DropReason.BadUdpChecksum;
            return false;
        }

        if (!TryDecapsulate(udp.Payload, out var vni, out var inner, out reason))
        {
            return false;
        }

        packet = new VxlanPacket(
            ethernet.Source,
            ethernet.Destination,
            ipv4.Source,
            ipv4.Destination,
            udp.SourcePort,
            udp.DestinationPort,
            vni,
            inner);
        return true;
    }
}
