using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fabric.Addressing;

namespace Fabric.HostAgent.Wire;

/// <summary>
/// Writes the outer headers of RFC 7348 §5 in front of an inner Ethernet frame:
/// <code>
/// +----------------+----------------+-------------+---------------+------------------------+
/// | Outer Ethernet | Outer IPv4     | Outer UDP   | VXLAN header  | Inner Ethernet frame   |
/// | 14 bytes       | 20 bytes, DF   | 8 bytes     | 8 bytes       | (no FCS)               |
/// +----------------+----------------+-------------+---------------+------------------------+
///                                    src port = hash of the inner flow, in the VTEP's source port range
///                                    dst port = 4789 (configurable), checksum 0
/// </code>
/// One instance per local VTEP: it holds what is the same for every frame the VTEP sends (source
/// MAC and address, TTL, port); the per-frame call names the remote VTEP, its next-hop MAC and the VNI.
/// DF is always set: the underlay must never fragment the outer datagram silently (see
/// docs/architecture.md, "Known pitfalls on Linux", MTU); an oversized inner frame is the sender's problem to learn about.
/// </summary>
[SkipLocalsInit]
internal sealed class VxlanEncapsulator
{
    /// <summary>Outer Ethernet + IPv4 + UDP + VXLAN: 50 bytes.</summary>
    public const int OverheadLength = EthernetFrame.HeaderLength + Ipv4Packet.MinHeaderLength + UdpDatagram.HeaderLength + VxlanHeader.Length;

    /// <summary>The largest inner frame whose outer IPv4 packet still fits in 65535 bytes.</summary>
    public const int MaxInnerFrameLength = Ipv4Packet.MaxTotalLength - (OverheadLength - EthernetFrame.HeaderLength);

    private const int IpOffset = EthernetFrame.HeaderLength;
    private const int UdpOffset = IpOffset + Ipv4Packet.MinHeaderLength;
    private const int VxlanOffset = UdpOffset + UdpDatagram.HeaderLength;

    public VxlanEncapsulator(
        MacAddress sourceMac,
        uint sourceAddress,
        byte timeToLive = 64,
        ushort destinationPort = VxlanHeader.DefaultPort,
        bool computeUdpChecksum = false,
        SourcePortRange sourcePorts = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(timeToLive);
        ArgumentOutOfRangeException.ThrowIfZero(destinationPort);
        SourceMac = sourceMac;
        SourceAddress = sourceAddress;
        TimeToLive = timeToLive;
        DestinationPort = destinationPort;
        ComputeUdpChecksum = computeUdpChecksum;
        SourcePorts = sourcePorts.OrDefault();
    }

    public MacAddress SourceMac { get; }

    public uint SourceAddress { get; }

    public byte TimeToLive { get; }

    public ushort DestinationPort { get; }

    /// <summary>The ports a flow's outer source port is taken from (RFC 7348 §5); 49152..65535 unless given.</summary>
    public SourcePortRange SourcePorts { get; }

    /// <summary>
    /// False by default: RFC 7348 §5 says the UDP checksum SHOULD be transmitted as zero, which saves
    /// a pass over the inner frame.
    /// </summary>
    public bool ComputeUdpChecksum { get; }

    /// <summary>
    /// Writes the encapsulated frame to the start of <paramref name="destination"/>. If the inner frame
    /// already sits at <c>destination[50..]</c> (received into headroom), it is not copied.
    /// </summary>
    public bool TryEncapsulate(
        ReadOnlySpan<byte> innerFrame,
        Vni vni,
        MacAddress nextHopMac,
        uint remoteAddress,
        ushort identification,
        Span<byte> destination,
        out int bytesWritten,
        out DropReason reason)
    {
        bytesWritten = 0;
        if (innerFrame.Length < EthernetFrame.HeaderLength)
        {
            reason = DropReason.InnerFrameTooShort;
            return false;
        }

        if (innerFrame.Length > MaxInnerFrameLength)
        {
            reason = DropReason.InnerFrameTooLong;
            return false;
        }

        int length = OverheadLength + innerFrame.Length;
        if (destination.Length < length)
        {
            reason = DropReason.DestinationTooSmall;
            return false;
        }

        if (vni.Value == 0)
        {
            // default(Vni) slipped through; it names no segment.
            reason = DropReason.BadVni;
            return false;
        }

        Span<byte> frame = destination.Slice(0, length);
        Span<byte> innerDestination = frame.Slice(OverheadLength);
        if (!Unsafe.AreSame(ref MemoryMarshal.GetReference(innerFrame), ref MemoryMarshal.GetReference(innerDestination)))
        {
            innerFrame.CopyTo(innerDestination);
        }

        // The hash reads the copy, which is the same bytes and stays valid if innerFrame overlapped destination.
        ushort sourcePort = SourcePorts.Port(FlowHash.Compute(innerDestination));
        EthernetFrame.WriteHeader(frame, nextHopMac, SourceMac, EtherType.Ipv4);
        Ipv4Packet.WriteHeader(
            frame.Slice(IpOffset),
            SourceAddress,
            remoteAddress,
            IpProtocol.Udp,
            (ushort)(length - IpOffset),
            identification,
            TimeToLive,
            dontFragment: true);
        UdpDatagram.WriteHeader(frame.Slice(UdpOffset), sourcePort, DestinationPort, (ushort)(length - UdpOffset));
        VxlanHeader.Write(frame.Slice(VxlanOffset), vni);
        if (ComputeUdpChecksum)
        {
            UdpDatagram.WriteChecksum(frame.Slice(UdpOffset), SourceAddress, remoteAddress);
        }

        bytesWritten = length;
        reason = DropReason.None;
        return true;
    }
}
