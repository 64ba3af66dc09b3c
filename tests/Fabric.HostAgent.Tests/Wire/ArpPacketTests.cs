using Fabric.Addressing;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Wire.TestFrames;

namespace Fabric.HostAgent.Tests.Wire;

[Trait("Category", "Unit")]
public sealed class ArpPacketTests
{
    // RFC 826 request, "who has 192.168.0.2? tell 192.168.0.1", in a broadcast Ethernet frame padded to 60 bytes.
    private static readonly byte[] RequestFrame = Hex(
        "ffffffffffff 001122334455 0806" +
        "0001 0800 06 04 0001" +      // htype Ethernet, ptype IPv4, hlen 6, plen 4, op request
        "001122334455 c0a80001" +     // sender MAC, sender IP
        "000000000000 c0a80002" +     // target MAC (unknown), target IP
        "000000000000000000000000000000000000");

    private static readonly byte[] Reply = Hex("0001 0800 06 04 0002 665544332211 c0a80002 001122334455 c0a80001");

    [Fact]
    public void An_rfc_826_request_is_read_from_its_golden_bytes()
    {
        Assert.True(EthernetFrame.TryParse(RequestFrame, out var eth, out _));
        Assert.Equal(EtherType.Arp, eth.EtherType);
        Assert.True(ArpPacket.TryRead(eth.Payload, out var arp, out var reason));
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(ArpOperation.Request, arp.Operation);
        Assert.Equal(MacAddress.Parse("00:11:22:33:44:55"), arp.SenderHardwareAddress);
        Assert.Equal(Ipv4Address.Parse("192.168.0.1"), arp.SenderProtocolAddress);
        Assert.Equal(MacAddress.Zero, arp.TargetHardwareAddress);
        Assert.Equal(Ipv4Address.Parse("192.168.0.2"), arp.TargetProtocolAddress);
    }

    [Fact]
    public void Writing_a_request_reproduces_the_golden_frame()
    {
        byte[] frame = ArpRequest(MacAddress.Parse("00:11:22:33:44:55"), Ipv4Address.Parse("192.168.0.1"), Ipv4Address.Parse("192.168.0.2"));
        Assert.Equal(RequestFrame, frame);
    }

    [Fact]
    public void A_reply_round_trips()
    {
        Assert.True(ArpPacket.TryRead(Reply, out var arp, out _));
        Assert.Equal(ArpOperation.Reply, arp.Operation);
        var written = new byte[28];
        Assert.Equal(28, arp.Write(written));
        Assert.Equal(Reply, written);
    }

    [Fact]
    public void Every_truncation_of_an_arp_packet_is_dropped_as_truncated()
    {
        for (int length = 0; length < 28; length++)
        {
            Assert.False(ArpPacket.TryRead(Reply.AsSpan(0, length), out _, out var reason));
            Assert.Equal(DropReason.Truncated, reason);
        }
    }

    [Theory]
    [InlineData(1, 0x00)] // htype 0
    [InlineData(1, 0x06)] // htype 0x0006 (IEEE 802)
    [InlineData(2, 0x86)] // ptype 0x86dd
    [InlineData(4, 0x08)] // hlen 8
    [InlineData(5, 0x10)] // plen 16
    [InlineData(7, 0x03)] // op 3, RARP request
    public void Arp_that_is_not_ipv4_over_ethernet_request_or_reply_is_unsupported(int offset, byte value)
    {
        byte[] packet = Reply.ToArray();
        packet[offset] = value;
        Assert.False(ArpPacket.TryRead(packet, out _, out var reason));
        Assert.Equal(DropReason.UnsupportedArp, reason);
    }
}
