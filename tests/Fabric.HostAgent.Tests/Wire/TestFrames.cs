using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Tests.Wire;

/// <summary>Frames for tests, built off the hot path (allocating is fine here).</summary>
internal static class TestFrames
{
    public static readonly MacAddress HostA = MacAddress.Parse("02:00:00:00:00:0a");
    public static readonly MacAddress HostB = MacAddress.Parse("02:00:00:00:00:0b");
    public static readonly MacAddress VtepMac = MacAddress.Parse("52:54:00:12:34:56");
    public static readonly MacAddress RouterMac = MacAddress.Parse("52:54:00:ab:cd:ef");
    public static readonly uint VtepAddress = Ipv4Address.Parse("10.0.0.1");
    public static readonly uint RemoteVtepAddress = Ipv4Address.Parse("10.0.0.2");

    /// <summary>"aa bb cc" or "aabbcc" to bytes.</summary>
    public static byte[] Hex(string text) => Convert.FromHexString(text.Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal));

    /// <summary>An ARP request from <paramref name="sender"/> (broadcast), padded to the 60-byte Ethernet minimum.</summary>
    public static byte[] ArpRequest(MacAddress sender, uint senderIp, uint targetIp)
    {
        var frame = new byte[60];
        EthernetFrame.WriteHeader(frame, MacAddress.Broadcast, sender, EtherType.Arp);
        new ArpPacket(ArpOperation.Request, sender, senderIp, MacAddress.Zero, targetIp).Write(frame.AsSpan(14));
        return frame;
    }

    /// <summary>An Ethernet frame (802.1Q-tagged if <paramref name="tag"/> is given) carrying IPv4/UDP with a valid UDP checksum.</summary>
    public static byte[] UdpFrame(
        MacAddress destinationMac,
        MacAddress sourceMac,
        uint sourceIp,
        uint destinationIp,
        ushort sourcePort,
        ushort destinationPort,
        int payloadLength = 32,
        VlanTag? tag = null,
        ushort identification = 0x1234,
        byte protocol = IpProtocol.Udp)
    {
        int l2 = tag is null ? EthernetFrame.HeaderLength : EthernetFrame.TaggedHeaderLength;
        int udpLength = UdpDatagram.HeaderLength + payloadLength;
        var frame = new byte[l2 + Ipv4Packet.MinHeaderLength + udpLength];
        if (tag is { } t)
        {
            EthernetFrame.WriteTaggedHeader(frame, destinationMac, sourceMac, t, EtherType.Ipv4);
        }
        else
        {
            EthernetFrame.WriteHeader(frame, destinationMac, sourceMac, EtherType.Ipv4);
        }

        Ipv4Packet.WriteHeader(frame.AsSpan(l2), sourceIp, destinationIp, protocol, (ushort)(20 + udpLength), identification, 64, dontFragment: false);
        Span<byte> udp = frame.AsSpan(l2 + 20);
        UdpDatagram.WriteHeader(udp, sourcePort, destinationPort, (ushort)udpLength);
        for (int i = 0; i < payloadLength; i++)
        {
            udp[8 + i] = (byte)('a' + i % 26);
        }

        UdpDatagram.WriteChecksum(udp, sourceIp, destinationIp);
        return frame;
    }

    public static VxlanEncapsulator Encapsulator(bool computeUdpChecksum = false)
        => new(VtepMac, VtepAddress, timeToLive: 64, computeUdpChecksum: computeUdpChecksum);

    public static byte[] Encapsulate(byte[] inner, uint vni = 5001, bool computeUdpChecksum = false, ushort identification = 7)
    {
        var buffer = new byte[VxlanEncapsulator.OverheadLength + inner.Length];
        bool ok = Encapsulator(computeUdpChecksum).TryEncapsulate(inner, new Vni(vni), RouterMac, RemoteVtepAddress, identification, buffer, out int written, out var reason);
        Assert.True(ok, reason.ToString());
        Assert.Equal(buffer.Length, written);
        return buffer;
    }

    /// <summary>Rewrites the outer IPv4 header checksum after a test edited the header.</summary>
    public static void FixOuterIpChecksum(byte[] frame) => Ipv4Packet.UpdateChecksum(frame.AsSpan(14, 20));

    public static ushort ReadUInt16(byte[] frame, int offset) => BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(offset));
}
