using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Wire.TestFrames;

namespace Fabric.HostAgent.Tests.Wire;

[Trait("Category", "Unit")]
public sealed class VxlanEncapsulationTests
{
    private static readonly byte[] InnerArp = ArpRequest(HostA, Ipv4Address.Parse("192.168.10.1"), Ipv4Address.Parse("192.168.10.2"));

    [Fact]
    public void Encapsulation_writes_the_golden_outer_headers_in_front_of_the_inner_frame()
    {
        byte[] frame = Encapsulate(InnerArp, vni: 5001, identification: 7);
        ushort sourcePort = FlowHash.SourcePort(InnerArp);
        byte[] expected = Hex(
            "525400abcdef 525400123456 0800" +               // outer Ethernet: next hop <- VTEP
            "4500 0060 0007 4000 4011 2684 0a000001 0a000002" + // IPv4: 96 bytes, id 7, DF, TTL 64, UDP, checksum by hand
            $"{sourcePort:x4} 12b5 004c 0000" +               // UDP: flow port -> 4789, 76 bytes, no checksum (RFC 7348 §5)
            "08000000 00138900");                             // VXLAN: I flag, VNI 5001
        Assert.Equal(expected, frame.AsSpan(0, 50).ToArray());
        Assert.Equal(InnerArp, frame.AsSpan(50).ToArray());
    }

    [Fact]
    public void An_encapsulated_frame_decapsulates_to_what_was_encapsulated()
    {
        byte[] inner = UdpFrame(HostB, HostA, 0xC0A80A01, 0xC0A80A02, 40000, 80, tag: VlanTag.Create(new VlanId(42)));
        byte[] frame = Encapsulate(inner, vni: 16_777_215, identification: 0xBEEF);

        Assert.True(VxlanDecapsulator.TryDecapsulateFrame(frame, out var packet, out var reason));
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(VtepMac, packet.OuterSourceMac);
        Assert.Equal(RouterMac, packet.OuterDestinationMac);
        Assert.Equal(VtepAddress, packet.OuterSource);
        Assert.Equal(RemoteVtepAddress, packet.OuterDestination);
        Assert.Equal(FlowHash.SourcePort(inner), packet.SourcePort);
        Assert.Equal(4789, packet.DestinationPort);
        Assert.Equal(new Vni(16_777_215), packet.Vni);
        Assert.Equal(inner, packet.InnerFrame.ToArray());

        Assert.True(Ipv4Packet.TryParse(frame.AsSpan(14), out var ip, out _));
        Assert.True(ip.DontFragment);
        Assert.Equal(64, ip.TimeToLive);
        Assert.Equal(0xBEEF, ip.Identification);
    }

    [Fact]
    public void The_vtep_socket_payload_decapsulates_to_the_vni_and_a_slice_of_the_inner_frame()
    {
        byte[] frame = Encapsulate(InnerArp, vni: 77);
        ReadOnlySpan<byte> udpPayload = frame.AsSpan(42);
        Assert.True(VxlanDecapsulator.TryDecapsulate(udpPayload, out var vni, out var inner, out _));
        Assert.Equal(new Vni(77), vni);
        Assert.True(inner.Overlaps(udpPayload));
        Assert.Equal(InnerArp, inner.ToArray());
    }

    [Fact]
    public void Every_truncation_of_an_encapsulated_frame_is_dropped_as_truncated()
    {
        byte[] frame = Encapsulate(InnerArp);
        for (int length = 0; length < frame.Length; length++)
        {
            Assert.False(VxlanDecapsulator.TryDecapsulateFrame(frame.AsSpan(0, length), out _, out var reason));
            Assert.Equal(DropReason.Truncated, reason);
        }
    }

    [Fact]
    public void Every_truncation_of_a_vtep_socket_payload_below_a_whole_inner_header_is_dropped()
    {
        // The UDP payload carries no inner length: once 14 inner bytes are there, a shorter inner frame is all we can know.
        byte[] payload = Encapsulate(InnerArp).AsSpan(42).ToArray();
        for (int length = 0; length < VxlanHeader.Length + EthernetFrame.HeaderLength; length++)
        {
            Assert.False(VxlanDecapsulator.TryDecapsulate(payload.AsSpan(0, length), out var vni, out var inner, out var reason));
            Assert.Equal(length < VxlanHeader.Length ? DropReason.Truncated : DropReason.InnerFrameTooShort, reason);
            Assert.Equal(default, vni);
            Assert.True(inner.IsEmpty);
        }
    }

    [Fact]
    public void An_inner_frame_shorter_than_14_bytes_is_dropped_on_both_sides()
    {
        Assert.False(Encapsulator().TryEncapsulate(new byte[13], new Vni(1), RouterMac, RemoteVtepAddress, 0, new byte[100], out _, out var reason));
        Assert.Equal(DropReason.InnerFrameTooShort, reason);

        byte[] frame = Encapsulate(InnerArp);
        byte[] shortened = frame.AsSpan(0, 50 + 13).ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(shortened.AsSpan(16), (ushort)(shortened.Length - 14));
        BinaryPrimitives.WriteUInt16BigEndian(shortened.AsSpan(38), (ushort)(shortened.Length - 34));
        FixOuterIpChecksum(shortened);
        Assert.False(VxlanDecapsulator.TryDecapsulateFrame(shortened, out _, out reason));
        Assert.Equal(DropReason.InnerFrameTooShort, reason);
    }

    [Theory]
    [InlineData(42, 0x00, nameof(DropReason.BadVxlanFlags))]
    [InlineData(42, 0xF7, nameof(DropReason.BadVxlanFlags))]
    [InlineData(14, 0x65, nameof(DropReason.BadIpVersion))]
    [InlineData(14, 0x44, nameof(DropReason.BadIhl))]
    [InlineData(23, 0x06, nameof(DropReason.NotUdp))]
    [InlineData(12, 0x86, nameof(DropReason.NotIpv4))]
    public void Malformed_outer_headers_are_dropped_with_their_reason(int offset, byte value, string expectedName)
    {
        var expected = Enum.Parse<DropReason>(expectedName);
        byte[] frame = Encapsulate(InnerArp);
        frame[offset] = value;
        if (offset is >= 14 and < 34)
        {
            FixOuterIpChecksum(frame);
        }

        Assert.False(VxlanDecapsulator.TryDecapsulateFrame(frame, out _, out var reason));
        Assert.Equal(expected, reason);
    }

    [Fact]
    public void Vni_0_on_the_wire_is_dropped()
    {
        byte[] frame = Encapsulate(InnerArp);
        frame.AsSpan(46, 3).Clear();
        Assert.False(VxlanDecapsulator.TryDecapsulateFrame(frame, out _, out var reason));
        Assert.Equal(DropReason.BadVni, reason);
    }

    [Fact]
    public void Reserved_vxlan_bits_set_by_a_sender_are_ignored()
    {
        byte[] frame = Encapsulate(InnerArp, vni: 9);
        frame[42] = 0xFF;
        frame[43] = 0xFF;
        frame[49] = 0xFF;
        Assert.True(VxlanDecapsulator.TryDecapsulateFrame(frame, out var packet, out _));
        Assert.Equal(9u, packet.Vni.Value);
    }

    [Fact]
    public void A_bad_outer_ip_checksum_is_dropped()
    {
        byte[] frame = Encapsulate(InnerArp);
        frame[22]--; // TTL
        Assert.False(VxlanDecapsulator.TryDecapsulateFrame(frame, out _, out var reason));
        Assert.Equal(DropReason.BadChecksum, reason);
    }

    [Fact]
    public void An_outer_total_length_beyond_the_frame_or_below_the_header_is_dropped()
    {
        byte[] frame = Encapsulate(InnerArp);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), 97); // one byte more than is there
        FixOuterIpChecksum(frame);
        Assert.False(VxlanDecapsulator.TryDecapsulateFrame(frame, out _, out var reason));
        Assert.Equal(DropReason.Truncated, reason);

        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), 19);
        FixOuterIpChecksum(frame);
        Assert.False(VxlanDecapsulator.TryDecapsulateFrame(frame, out _, out reason));
        Assert.Equal(DropReason.BadTotalLength, reason);
    }

    [Theory]
    [InlineData(0x004d)] // claims one byte more than the IPv4 payload
    [InlineData(0x004b)] // claims one byte less
    [InlineData(0x0007)]
    public void A_udp_length_that_disagrees_with_the_ip_payload_is_dropped(ushort udpLength)
    {
        byte[] frame = Encapsulate(InnerArp);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(38), udpLength);
        Assert.False(VxlanDecapsulator.TryDecapsulateFrame(frame, out _, out var reason));
        Assert.Equal(DropReason.BadUdpLength, reason);
    }

    [Fact]
    public void A_datagram_to_another_port_is_not_vxlan()
    {
        byte[] frame = Encapsulate(InnerArp);
        Assert.False(VxlanDecapsulator.TryDecapsulateFrame(frame, out _, out var reason, vxlanPort: 8472));
        Assert.Equal(DropReason.NotVxlanPort, reason);
    }

    [Fact]
    public void A_configured_port_is_written_and_accepted()
    {
        var encapsulator = new VxlanEncapsulator(VtepMac, VtepAddress, timeToLive: 3, destinationPort: 8472);
        var buffer = new byte[200];
        Assert.True(encapsulator.TryEncapsulate(InnerArp, new Vni(1), RouterMac, RemoteVtepAddress, 0, buffer, out int written, out _));
        Assert.True(VxlanDecapsulator.TryDecapsulateFrame(buffer.AsSpan(0, written), out var packet, out _, vxlanPort: 8472));
        Assert.Equal(8472, packet.DestinationPort);
        Assert.Equal(3, buffer[22]);
    }

    [Fact]
    public void Outer_fragments_are_dropped()
    {
        byte[] frame = Encapsulate(InnerArp);
        frame[20] = 0x20; // MF
        FixOuterIpChecksum(frame);
        Assert.False(VxlanDecapsulator.TryDecapsulateFrame(frame, out _, out var reason));
        Assert.Equal(DropReason.Fragmented, reason);
    }

    [Fact]
    public void The_udp_checksum_is_zero_by_default_and_verified_when_computed()
    {
        Assert.Equal(0, ReadUInt16(Encapsulate(InnerArp), 40));

        byte[] frame = Encapsulate(InnerArp, computeUdpChecksum: true);
        Assert.NotEqual(0, ReadUInt16(frame, 40));
        Assert.True(VxlanDecapsulator.TryDecapsulateFrame(frame, out _, out _));

        frame[^1] ^= 0x40; // corrupt the inner frame's padding
        Assert.False(VxlanDecapsulator.TryDecapsulateFrame(frame, out _, out var reason));
        Assert.Equal(DropReason.BadUdpChecksum, reason);
    }

    [Fact]
    public void An_underlay_802_1q_tag_on_the_outer_frame_is_accepted()
    {
        byte[] frame = Encapsulate(InnerArp, vni: 12);
        var tagged = new byte[frame.Length + 4];
        Assert.True(VlanTagging.TryPush(frame, tagged, VlanTag.Create(new VlanId(10)), out _, out _));
        Assert.True(VxlanDecapsulator.TryDecapsulateFrame(tagged, out var packet, out _));
        Assert.Equal(12u, packet.Vni.Value);
    }

    [Fact]
    public void A_destination_without_room_for_the_encapsulated_frame_is_refused()
    {
        var buffer = new byte[50 + InnerArp.Length - 1];
        Assert.False(Encapsulator().TryEncapsulate(InnerArp, new Vni(1), RouterMac, RemoteVtepAddress, 0, buffer, out int written, out var reason));
        Assert.Equal(DropReason.DestinationTooSmall, reason);
        Assert.Equal(0, written);
    }

    [Fact]
    public void An_inner_frame_too_large_for_one_ipv4_packet_is_refused()
    {
        var inner = new byte[VxlanEncapsulator.MaxInnerFrameLength + 1];
        Assert.False(Encapsulator().TryEncapsulate(inner, new Vni(1), RouterMac, RemoteVtepAddress, 0, new byte[inner.Length + 50], out _, out var reason));
        Assert.Equal(DropReason.InnerFrameTooLong, reason);

        var largest = new byte[VxlanEncapsulator.MaxInnerFrameLength];
        var buffer = new byte[largest.Length + 50];
        Assert.True(Encapsulator().TryEncapsulate(largest, new Vni(1), RouterMac, RemoteVtepAddress, 0, buffer, out _, out _));
        Assert.True(Ipv4Packet.TryParse(buffer.AsSpan(14), out var ip, out _));
        Assert.Equal(65535, ip.TotalLength);
    }

    [Fact]
    public void A_default_vni_is_refused_rather_than_sent_as_0()
    {
        Assert.False(Encapsulator().TryEncapsulate(InnerArp, default, RouterMac, RemoteVtepAddress, 0, new byte[200], out _, out var reason));
        Assert.Equal(DropReason.BadVni, reason);
    }

    [Fact]
    public void An_inner_frame_received_into_headroom_is_encapsulated_without_moving()
    {
        var buffer = new byte[50 + InnerArp.Length];
        InnerArp.CopyTo(buffer, 50);
        Assert.True(Encapsulator().TryEncapsulate(buffer.AsSpan(50), new Vni(5001), RouterMac, RemoteVtepAddress, 7, buffer, out int written, out _));
        Assert.Equal(Encapsulate(InnerArp, vni: 5001, identification: 7), buffer.AsSpan(0, written).ToArray());
    }

    [Fact]
    public void Constructing_an_encapsulator_with_ttl_0_or_port_0_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new VxlanEncapsulator(VtepMac, VtepAddress, timeToLive: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new VxlanEncapsulator(VtepMac, VtepAddress, destinationPort: 0));
    }
}
