using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Wire.TestFrames;

namespace Fabric.HostAgent.Tests.Wire;

[Trait("Category", "Unit")]
public sealed class UdpDatagramTests
{
    private static readonly uint Source = Ipv4Address.Parse("192.168.0.1");
    private static readonly uint Destination = Ipv4Address.Parse("192.168.0.199");

    // 1234 -> 53, length 11, payload "abc"; checksum 0xb455 worked out by hand over the pseudo-header
    // (the odd final byte is padded with zero, RFC 768).
    private static readonly byte[] Golden = Hex("04d2 0035 000b b455 616263");

    [Fact]
    public void A_golden_datagram_yields_its_ports_length_and_payload()
    {
        Assert.True(UdpDatagram.TryParse(Golden, out var udp, out var reason));
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(1234, udp.SourcePort);
        Assert.Equal(53, udp.DestinationPort);
        Assert.Equal(11, udp.Length);
        Assert.Equal(0xb455, udp.Checksum);
        Assert.Equal("abc"u8.ToArray(), udp.Payload.ToArray());
        Assert.True(udp.ChecksumIsValid(Source, Destination));
    }

    [Fact]
    public void The_checksum_is_computed_over_the_pseudo_header()
    {
        var datagram = new byte[11];
        UdpDatagram.WriteHeader(datagram, 1234, 53, 11);
        "abc"u8.CopyTo(datagram.AsSpan(8));
        Assert.Equal(0, ReadUInt16(datagram, 6));

        UdpDatagram.WriteChecksum(datagram, Source, Destination);
        Assert.Equal(Golden, datagram);
    }

    [Fact]
    public void A_corrupted_datagram_fails_its_checksum_but_a_zero_checksum_means_none()
    {
        byte[] datagram = Golden.ToArray();
        datagram[9] ^= 0x01;
        Assert.True(UdpDatagram.TryParse(datagram, out var udp, out _));
        Assert.False(udp.ChecksumIsValid(Source, Destination));
        Assert.False(udp.ChecksumIsValid(Source + 1, Destination));

        datagram[6] = 0;
        datagram[7] = 0;
        Assert.True(UdpDatagram.TryParse(datagram, out udp, out _));
        Assert.True(udp.ChecksumIsValid(Source, Destination));
    }

    [Fact]
    public void A_computed_checksum_of_zero_is_sent_as_all_ones()
    {
        // Choose the payload so that the one's complement sum is 0xFFFF: the checksum would be 0.
        var datagram = new byte[10];
        UdpDatagram.WriteHeader(datagram, 1, 2, 10);
        ulong sum = InternetChecksum.Add((ulong)Source + Destination + IpProtocol.Udp + 10, datagram);
        ushort filler = (ushort)(0xFFFF - InternetChecksum.Fold(sum));
        datagram[8] = (byte)(filler >> 8);
        datagram[9] = (byte)filler;

        UdpDatagram.WriteChecksum(datagram, Source, Destination);
        Assert.Equal(0xFFFF, ReadUInt16(datagram, 6));
        Assert.True(UdpDatagram.TryParse(datagram, out var udp, out _));
        Assert.True(udp.ChecksumIsValid(Source, Destination));
    }

    [Fact]
    public void Every_truncation_of_a_datagram_is_dropped_as_truncated()
    {
        for (int length = 0; length < Golden.Length; length++)
        {
            Assert.False(UdpDatagram.TryParse(Golden.AsSpan(0, length), out _, out var reason));
            Assert.Equal(DropReason.Truncated, reason);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void A_length_below_the_header_is_dropped(int length)
    {
        byte[] datagram = Golden.ToArray();
        datagram[5] = (byte)length;
        Assert.False(UdpDatagram.TryParse(datagram, out _, out var reason));
        Assert.Equal(DropReason.BadUdpLength, reason);
    }

    [Fact]
    public void Bytes_beyond_the_length_field_are_not_payload()
    {
        byte[] datagram = [.. Golden, 0xEE, 0xEE];
        Assert.True(UdpDatagram.TryParse(datagram, out var udp, out _));
        Assert.Equal(3, udp.Payload.Length);
    }
}
