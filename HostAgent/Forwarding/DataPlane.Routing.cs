using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.Grains;
using Fabric.HostAgent.Ports;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Forwarding;

/// <summary>
/// The anycast gateway (docs/architecture.md, "Routing"): every host routes for its own VMs between
/// the routed port groups of its switch, at ingress, into the destination's VNI (EVPN asymmetric
/// IRB, RFC 9135 §4), and answers as a router does with ICMP (RFC 792, RFC 1812 §4.3, RFC 1191).
/// Same rules as the rest of the pipeline: no grain call, no allocation, no lock, no log line.
/// </summary>
internal sealed partial class DataPlane
{
    /// <summary>RFC 1812 §4.3.2.3: an ICMP error carries as much of the offending datagram as fits in 576 bytes.</summary>
    public const int MaxIcmpErrorLength = 576;

    private const int IcmpHeaderLength = 8;
    private const byte IcmpEchoReply = 0;
    private const byte IcmpDestinationUnreachable = 3;
    private const byte IcmpEchoRequest = 8;
    private const byte IcmpTimeExceeded = 11;
    private const byte UnreachableNet = 0;
    private const byte UnreachableProtocol = 2;
    private const byte UnreachablePort = 3;
    private const byte UnreachableFragmentationNeeded = 4;

    /// <summary>The anycast gateway's MAC (<see cref="PortGroup.GatewayMac"/>) as a 48-bit value.</summary>
    private static readonly ulong PortGroupGatewayMac = PortGroup.GatewayMac.Value;

    /// <summary>
    /// Stage route, for a frame from a local port to the anycast gateway's MAC in a routed segment:
    /// ARP for the gateway is answered; an IPv4 packet to one of the gateway's addresses is answered
    /// (echo) or refused (port or protocol unreachable); any other is checked (source in the ingress
    /// subnet, TTL, route, MTU), its destination resolved from the destination segment's IP bindings,
    /// its MACs rewritten and its TTL decremented (RFC 1812 §5.3.1, checksum updated per RFC 1624),
    /// and forwarded in the destination VNI: to a local port, or encapsulated once to the VTEP that
    /// holds the destination MAC.
    /// </summary>
    private void Route(int portIndex, Span<byte> slot, int length, RouterInterface ingress, ForwardingSnapshot snapshot, SegmentForwarding segment, TrafficCounters portCounters, ForwardingScratch scratch, ref VirtioNetHeader offload)
    {
        var frame = slot.Slice(FrameBatch.Headroom, length);
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(2 * EthernetFrame.MacLength));
        if (etherType == EtherType.Arp)
        {
            AnswerGatewayArp(portIndex, frame, ingress, snapshot, segment, scratch);
            return;
        }

        if (etherType != EtherType.Ipv4)
        {
            Drop(portCounters, segment, DataPlaneDrop.NotRoutable);
            return;
        }

        // A router checks the header, its checksum included, before forwarding (RFC 1812 §5.2.2).
        if (!Ipv4Packet.TryParse(frame.Slice(EthernetFrame.HeaderLength), out var ipv4, out var reason))
        {
            CountMalformed(portCounters, reason);
            segment.Counters.CountDrop(DataPlaneDrop.Malformed);
            return;
        }

        int headerLength = ipv4.HeaderLength;
        int totalLength = ipv4.TotalLength;
        var packet = frame.Slice(EthernetFrame.HeaderLength, totalLength);
        uint sourceIp = ipv4.Source;
        uint destinationIp = ipv4.Destination;
        if (!ingress.Contains(sourceIp) || sourceIp == ingress.Network || sourceIp == ingress.Broadcast)
        {
            // Strict reverse path (RFC 3704 §2.2): only the ingress subnet's hosts route through it.
            Drop(portCounters, segment, DataPlaneDrop.NotRoutable);
            return;
        }

        if (FindGatewayAddress(snapshot, destinationIp))
        {
            AnswerForGateway(portIndex, frame, packet, headerLength, ingress, snapshot, segment, portCounters, scratch);
            return;
        }

        if (destinationIp == uint.MaxValue || (destinationIp >> 28) == 0xE || destinationIp == 0)
        {
            Drop(portCounters, segment, DataPlaneDrop.NotRoutable);
            return;
        }

        if (ipv4.TimeToLive <= 1)
        {
            // RFC 1812 §5.3.1: a packet whose TTL would reach 0 is not forwarded; time exceeded in transit.
            SendIcmpError(portIndex, frame, ingress, IcmpTimeExceeded, 0, 0, snapshot, segment, scratch);
            Drop(portCounters, segment, DataPlaneDrop.NotRoutable);
            return;
        }

        var egress = FindRoute(snapshot, destinationIp);
        if (egress is null || !snapshot.Segments.TryGetValue(egress.Vni, out var egressSegment))
        {
            SendIcmpError(portIndex, frame, ingress, IcmpDestinationUnreachable, UnreachableNet, 0, snapshot, segment, scratch);
            Drop(portCounters, segment, DataPlaneDrop.NotRoutable);
            return;
        }

        if (destinationIp == egress.Network || destinationIp == egress.Broadcast)
        {
            // Directed broadcasts are not forwarded (RFC 2644).
            Drop(portCounters, segment, DataPlaneDrop.NotRoutable);
            return;
        }

        if (!offload.IsGso && totalLength > snapshot.Mtu)
        {
            if (ipv4.DontFragment)
            {
                // RFC 1191 §4: fragmentation needed and DF set, with the next-hop MTU.
                SendIcmpError(portIndex, frame, ingress, IcmpDestinationUnreachable, UnreachableFragmentationNeeded, (ushort)snapshot.Mtu, snapshot, segment, scratch);
                Drop(portCounters, segment, DataPlaneDrop.TooLong);
            }
            else
            {
                Drop(portCounters, segment, DataPlaneDrop.FragmentationUnsupported);
            }

            return;
        }

        if (!egressSegment.ArpBindings.TryGetValue(destinationIp, out ulong destinationMac) || destinationMac == PortGroupGatewayMac)
        {
            Resolve(egress, egressSegment, destinationIp, snapshot, scratch);
            Drop(portCounters, segment, DataPlaneDrop.RouteUnresolved);
            return;
        }

        // Rewrite: to the destination's MAC from the gateway's, TTL - 1 (RFC 1812 §5.3.1), the header
        // checksum updated incrementally (RFC 1624 eqn. 3). The L4 checksum does not cover the TTL.
        new MacAddress(destinationMac).Write(frame);
        PortGroup.GatewayMac.Write(frame.Slice(EthernetFrame.MacLength));
        ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(8));
        ushort newWord = (ushort)(oldWord - 0x0100);
        uint sum = (ushort)~BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(10)) + (uint)(ushort)~oldWord + newWord;
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(packet.Slice(8), newWord);
        BinaryPrimitives.WriteUInt16BigEndian(packet.Slice(10), (ushort)~sum);

        portCounters.CountRouted();
        segment.Counters.CountRouted();
        Counters.Total.CountRouted();
        uint vni = egress.Vni;
        var destination = new MacAddress(destinationMac);
        if (!TryForwardUnicast(-1, vni, slot, length, destination, snapshot, egressSegment, portCounters, scratch, ref offload))
        {
            // Bound but not located yet (its MAC table entry not in): flood in the destination segment.
            Flood(-1, vni, slot, length, snapshot, egressSegment, scratch, ref offload);
        }
    }

    /// <summary>The routed port group whose subnet holds <paramref name="address"/>; null for none (subnets of a switch never overlap).</summary>
    private static RouterInterface? FindRoute(ForwardingSnapshot snapshot, uint address)
    {
        foreach (var route in snapshot.Routes)
        {
            if (route.Contains(address))
            {
                return route;
            }
        }

        return null;
    }

    private static bool FindGatewayAddress(ForwardingSnapshot snapshot, uint address)
    {
        foreach (var route in snapshot.Routes)
        {
            if (route.Gateway == address)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// ARP to the gateway's MAC: a request for the gateway's address (a unicast refresh, RFC 1122
    /// §2.3.2.1) is answered; anything else, such as a VM's reply to the gateway's own request, has
    /// been snooped already and ends here.
    /// </summary>
    private void AnswerGatewayArp(int portIndex, ReadOnlySpan<byte> frame, RouterInterface ingress, ForwardingSnapshot snapshot, SegmentForwarding segment, ForwardingScratch scratch)
    {
        if (!ArpPacket.TryRead(frame.Slice(EthernetFrame.HeaderLength), out var arp, out _)
            || arp.Operation != ArpOperation.Request
            || arp.TargetProtocolAddress != ingress.Gateway)
        {
            return;
        }

        AnswerArp(in arp, PortGroup.GatewayMac, portIndex, ingress.Vni, snapshot, segment, scratch);
    }

    /// <summary>
    /// A packet to one of the gateway's own addresses: an ICMP echo request is answered in place
    /// (RFC 792 echo reply: addresses swapped, type 0, TTL 64); a UDP datagram gets port unreachable
    /// (so traceroute to the gateway ends); other protocols, protocol unreachable; TCP is dropped
    /// (nothing listens).
    /// </summary>
    private void AnswerForGateway(int portIndex, Span<byte> frame, Span<byte> packet, int headerLength, RouterInterface ingress, ForwardingSnapshot snapshot, SegmentForwarding segment, TrafficCounters portCounters, ForwardingScratch scratch)
    {
        byte protocol = packet[9];
        bool firstFragment = (BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(6)) & 0x3FFF) == 0;
        if (protocol == IpProtocol.Icmp && firstFragment && packet.Length >= headerLength + IcmpHeaderLength && packet[headerLength] == IcmpEchoRequest
            && InternetChecksum.Verify(packet.Slice(headerLength)))
        {
            var icmp = packet.Slice(headerLength);
            frame.Slice(EthernetFrame.MacLength, EthernetFrame.MacLength).CopyTo(frame);
            PortGroup.GatewayMac.Write(frame.Slice(EthernetFrame.MacLength));
            uint requester = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(12));
            uint gateway = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(16));
            BinaryPrimitives.WriteUInt32BigEndian(packet.Slice(12), gateway);
            BinaryPrimitives.WriteUInt32BigEndian(packet.Slice(16), requester);
            packet[8] = 64;
            Ipv4Packet.UpdateChecksum(packet);
            icmp[0] = IcmpEchoReply;
            BinaryPrimitives.WriteUInt16BigEndian(icmp.Slice(2), 0);
            BinaryPrimitives.WriteUInt16BigEndian(icmp.Slice(2), InternetChecksum.Compute(icmp));
            Counters.Total.CountIcmpSent();
            segment.Counters.CountIcmpSent();
            var finished = VirtioNetHeader.None;
            DeliverLocal(snapshot.Ports[portIndex], ingress.Vni, frame.Slice(0, EthernetFrame.HeaderLength + packet.Length), snapshot, segment, scratch, ref finished);
            return;
        }

        if (protocol == IpProtocol.Udp)
        {
            SendIcmpError(portIndex, frame, ingress, IcmpDestinationUnreachable, UnreachablePort, 0, snapshot, segment, scratch);
        }
        else if (protocol != IpProtocol.Tcp && protocol != IpProtocol.Icmp)
        {
            SendIcmpError(portIndex, frame, ingress, IcmpDestinationUnreachable, UnreachableProtocol, 0, snapshot, segment, scratch);
        }

        Drop(portCounters, segment, DataPlaneDrop.NotRoutable);
    }

    /// <summary>
    /// Sends an ICMP error about the IPv4 packet in <paramref name="offending"/> (an Ethernet frame
    /// from the ingress port) back to its sender, from the ingress gateway's address: type, code,
    /// the next-hop MTU for fragmentation needed (RFC 1191 §4), then as much of the packet as fits in
    /// 576 bytes (RFC 1812 §4.3.2.3). Never about an ICMP error, a fragment other than the first, or
    /// a packet from an address that names no single host (RFC 1812 §4.3.2.7).
    /// </summary>
    private void SendIcmpError(int portIndex, ReadOnlySpan<byte> offending, RouterInterface ingress, byte type, byte code, ushort nextHopMtu, ForwardingSnapshot snapshot, SegmentForwarding segment, ForwardingScratch scratch)
    {
        var packet = offending.Slice(EthernetFrame.HeaderLength);
        int headerLength = (packet[0] & 0x0F) * 4;
        int totalLength = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(2)), packet.Length);
        uint sender = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(12));
        if ((BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(6)) & 0x1FFF) != 0 || sender == 0 || sender == uint.MaxValue || (sender >> 28) >= 0xE)
        {
            return;
        }

        if (packet[9] == IpProtocol.Icmp && totalLength > headerLength)
        {
            byte offendingType = packet[headerLength];
            if (offendingType is not (IcmpEchoRequest or IcmpEchoReply) && offendingType is not (13 or 14 or 15 or 16 or 17 or 18))
            {
                return; // RFC 1122 §3.2.2: no ICMP error about an ICMP error
            }
        }

        int quoted = Math.Min(totalLength, MaxIcmpErrorLength - Ipv4Packet.MinHeaderLength - IcmpHeaderLength);
        int ipLength = Ipv4Packet.MinHeaderLength + IcmpHeaderLength + quoted;
        var slot = scratch.Originated.AsSpan();
        var frame = slot.Slice(FrameBatch.Headroom, EthernetFrame.HeaderLength + ipLength);
        offending.Slice(EthernetFrame.MacLength, EthernetFrame.MacLength).CopyTo(frame);
        PortGroup.GatewayMac.Write(frame.Slice(EthernetFrame.MacLength));
        BinaryPrimitives.WriteUInt16BigEndian(frame.Slice(2 * EthernetFrame.MacLength), EtherType.Ipv4);
        var ip = frame.Slice(EthernetFrame.HeaderLength);
        // Precedence "internetwork control" (0xC0), as Linux and RFC 1812 §4.3.2.5 give ICMP errors.
        Ipv4Packet.WriteHeader(ip, ingress.Gateway, sender, IpProtocol.Icmp, (ushort)ipLength, scratch.NextIdentification++, 64, dontFragment: false, typeOfService: 0xC0);
        var icmp = ip.Slice(Ipv4Packet.MinHeaderLength);
        icmp[0] = type;
        icmp[1] = code;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.Slice(2), 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.Slice(4), 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.Slice(6), nextHopMtu);
        packet.Slice(0, quoted).CopyTo(icmp.Slice(IcmpHeaderLength));
        BinaryPrimitives.WriteUInt16BigEndian(icmp.Slice(2), InternetChecksum.Compute(icmp.Slice(0, IcmpHeaderLength + quoted)));

        Counters.Total.CountIcmpSent();
        segment.Counters.CountIcmpSent();
        var finished = VirtioNetHeader.None;
        DeliverLocal(snapshot.Ports[portIndex], ingress.Vni, frame, snapshot, segment, scratch, ref finished);
    }

    /// <summary>
    /// Asks for <paramref name="target"/> in the destination segment with an ARP request from the
    /// gateway (RFC 826), at most once a second per address: flooded to the segment's local ports and
    /// every VTEP of its flood list. The VM's reply, addressed to the gateway's MAC, is snooped by the
    /// agent of its host and published as its binding, which then reaches every host.
    /// </summary>
    private void Resolve(RouterInterface egress, SegmentForwarding egressSegment, uint target, ForwardingSnapshot snapshot, ForwardingScratch scratch)
    {
        if (!egress.ShouldResolve(target, Environment.TickCount64))
        {
            return;
        }

        const int length = EthernetFrame.HeaderLength + ArpPacket.Length + 18;
        var slot = scratch.Originated.AsSpan();
        var frame = slot.Slice(FrameBatch.Headroom, length);
        MacAddress.Broadcast.Write(frame);
        PortGroup.GatewayMac.Write(frame.Slice(EthernetFrame.MacLength));
        BinaryPrimitives.WriteUInt16BigEndian(frame.Slice(2 * EthernetFrame.MacLength), EtherType.Arp);
        new ArpPacket(ArpOperation.Request, PortGroup.GatewayMac, egress.Gateway, MacAddress.Zero, target).Write(frame.Slice(EthernetFrame.HeaderLength));
        frame.Slice(EthernetFrame.HeaderLength + ArpPacket.Length).Clear();
        var finished = VirtioNetHeader.None;
        Flood(-1, egress.Vni, slot, length, snapshot, egressSegment, scratch, ref finished);
    }
}
