using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Wire.TestFrames;

namespace Fabric.HostAgent.Tests.Wire;

[Trait("Category", "Unit")]
public sealed class Ipv4PacketTests
{
    // The classic example header (192.168.0.1 -> 192.168.0.199, UDP, DF, TTL 64, total length 115) whose checksum is 0xb861.
    private const string ClassicHeader = "4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7";

    private static byte[] ClassicPacket()
    {
        var packet = new byte[0x73];
        Hex(ClassicHeader).CopyTo(packet, 0);
        for (int i = 20; i < packet.Length; i++)
        {
            packet[i] = (byte)i;
        }

        return packet;
    }

    [Fact]
    public void The_classic_header_verifies_and_yields_every_field()
    {
        byte[] packet = ClassicPacket();
        Assert.True(Ipv4Packet.TryParse(packet, out var ip, out var reason));
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(20, ip.HeaderLength);
        Assert.Equal(0x73, ip.TotalLength);
        Assert.Equal(0, ip.Identification);
        Assert.True(ip.DontFragment);
        Assert.False(ip.MoreFragments);
        Assert.False(ip.IsFragment);
        Assert.Equal(64, ip.TimeToLive);
        Assert.Equal(IpProtocol.Udp, ip.Protocol);
        Assert.Equal(0xb861, ip.HeaderChecksum);
        Assert.Equal(Ipv4Address.Parse("192.168.0.1"), ip.Source);
        Assert.Equal(Ipv4Address.Parse("192.168.0.199"), ip.Destination);
        Assert.Equal(0x73 - 20, ip.Payload.Length);
        Assert.True(ip.Options.IsEmpty);
    }

    [Fact]
    public void The_checksum_of_the_classic_header_is_computed_as_0xb861()
    {
        byte[] header = Hex(ClassicHeader);
        header[10] = 0;
        header[11] = 0;
        Assert.Equal(0xb861, InternetChecksum.Compute(header));
    }

    [Fact]
    public void Writing_the_classic_header_fields_reproduces_its_golden_bytes()
    {
        var header = new byte[20];
        int written = Ipv4Packet.WriteHeader(header, Ipv4Address.Parse("192.168.0.1"), Ipv4Address.Parse("192.168.0.199"), IpProtocol.Udp, 0x73, 0, 64, dontFragment: true);
        Assert.Equal(20, written);
        Assert.Equal(Hex(ClassicHeader), header);
    }

    [Fact]
    public void A_header_whose_checksum_does_not_verify_is_dropped_unless_verification_is_off()
    {
        byte[] packet = ClassicPacket();
        packet[8] = 63; // TTL changed without updating the checksum
        Assert.False(Ipv4Packet.TryParse(packet, out _, out var reason));
        Assert.Equal(DropReason.BadChecksum, reason);
        Assert.True(Ipv4Packet.TryParse(packet, out _, out _, verifyChecksum: false));

        Ipv4Packet.UpdateChecksum(packet);
        Assert.True(Ipv4Packet.TryParse(packet, out _, out _));
    }

    [Theory]
    [InlineData(0x65)]
    [InlineData(0x05)]
    [InlineData(0xF5)]
    public void A_version_other_than_4_is_dropped(byte versionAndIhl)
    {
        byte[] packet = ClassicPacket();
        packet[0] = versionAndIhl;
        Assert.False(Ipv4Packet.TryParse(packet, out _, out var reason));
        Assert.Equal(DropReason.BadIpVersion, reason);
    }

    [Theory]
    [InlineData(0x40)]
    [InlineData(0x44)]
    public void An_ihl_below_5_is_dropped(byte versionAndIhl)
    {
        byte[] packet = ClassicPacket();
        packet[0] = versionAndIhl;
        Assert.False(Ipv4Packet.TryParse(packet, out _, out var reason));
        Assert.Equal(DropReason.BadIhl, reason);
    }

    [Fact]
    public void A_total_length_shorter_than_the_header_is_dropped()
    {
        byte[] packet = ClassicPacket();
        packet[2] = 0;
        packet[3] = 19;
        Ipv4Packet.UpdateChecksum(packet);
        Assert.False(Ipv4Packet.TryParse(packet, out _, out var reason));
        Assert.Equal(DropReason.BadTotalLength, reason);
    }

    [Fact]
    public void A_total_length_beyond_the_buffer_is_dropped_as_truncated()
    {
        byte[] packet = ClassicPacket();
        packet[3] = 0x74;
        Ipv4Packet.UpdateChecksum(packet);
        Assert.False(Ipv4Packet.TryParse(packet, out _, out var reason));
        Assert.Equal(DropReason.Truncated, reason);
    }

    [Fact]
    public void Every_truncation_of_a_packet_is_dropped_as_truncated()
    {
        byte[] packet = ClassicPacket();
        for (int length = 0; length < packet.Length; length++)
        {
            Assert.False(Ipv4Packet.TryParse(packet.AsSpan(0, length), out _, out var reason));
            Assert.Equal(DropReason.Truncated, reason);
        }
    }

    [Fact]
    public void Link_padding_after_the_total_length_is_not_payload()
    {
        var padded = new byte[46];
        Ipv4Packet.WriteHeader(padded, 1, 2, IpProtocol.Udp, 28, 1, 1);
        Assert.True(Ipv4Packet.TryParse(padded, out var ip, out _));
        Assert.Equal(28, ip.TotalLength);
        Assert.Equal(8, ip.Payload.Length);
    }

    [Fact]
    public void Options_are_covered_by_ihl_and_the_checksum()
    {
        // IHL 6: one 4-byte option (NOP NOP NOP EOL).
        byte[] packet = Hex("4600 0020 abcd 0000 4006 0000 0a000001 0a000002 01010100 0000000000000000");
        Ipv4Packet.UpdateChecksum(packet);
        Assert.True(Ipv4Packet.TryParse(packet, out var ip, out _));
        Assert.Equal(24, ip.HeaderLength);
        Assert.Equal(Hex("01010100"), ip.Options.ToArray());
        Assert.Equal(8, ip.Payload.Length);

        packet[22] = 0x07; // corrupt the option
        Assert.False(Ipv4Packet.TryParse(packet, out _, out var reason));
        Assert.Equal(DropReason.BadChecksum, reason);
    }

    [Theory]
    [InlineData(0x2000, true)]  // MF, first fragment
    [InlineData(0x0001, true)]  // last fragment
    [InlineData(0x4000, false)] // DF only
    public void Fragments_are_recognised_by_mf_or_offset(ushort flagsAndOffset, bool isFragment)
    {
        byte[] packet = ClassicPacket();
        packet[6] = (byte)(flagsAndOffset >> 8);
        packet[7] = (byte)flagsAndOffset;
        Ipv4Packet.UpdateChecksum(packet);
        Assert.True(Ipv4Packet.TryParse(packet, out var ip, out _));
        Assert.Equal(isFragment, ip.IsFragment);
    }

    [Fact]
    public void Ipv4_addresses_convert_to_and_from_host_order_integers()
    {
        Assert.Equal(0xC0A80001u, Ipv4Address.Parse("192.168.0.1"));
        Assert.Equal("10.0.0.255", Ipv4Address.Format(0x0A0000FF));
        Assert.Throws<ArgumentException>(() => Ipv4Address.Parse("::1"));
    }
}
