using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Tests.Wire;

/// <summary>
/// What a VM leaves to its NIC, done in software: partial checksums completed (RFC 1071) and GSO
/// super-frames cut into wire-sized TCP/UDP segments (IPv4 and IPv6) whose headers and checksums are
/// each complete, and whose payloads add up to the super-frame's.
/// </summary>
[Trait("Category", "Unit")]
public sealed class OffloadTests
{
    private static readonly MacAddress VmA = MacAddress.Parse("02:00:00:00:0a:01");
    private static readonly MacAddress VmB = MacAddress.Parse("02:00:00:00:0b:01");

    /// <summary>
    /// A TCP (or UDP) super-frame as a VM with TSO/USO and tx checksumming hands it over: the L4
    /// checksum field holds the pseudo-header sum only (CHECKSUM_PARTIAL).
    /// </summary>
    internal static (byte[] Frame, VirtioNetHeader Offload) SuperFrame(bool ipv6, bool tcp, int payload, int gsoSize, byte tcpFlags = 0x18, int tcpOptions = 12)
    {
        int ipHeader = ipv6 ? 40 : 20;
        int l4Header = tcp ? 20 + tcpOptions : 8;
        var frame = new byte[14 + ipHeader + l4Header + payload];
        EthernetFrame.WriteHeader(frame, VmB, VmA, ipv6 ? EtherType.Ipv6 : EtherType.Ipv4);
        var ip = frame.AsSpan(14);
        int l4Length = l4Header + payload;
        if (ipv6)
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), (ushort)l4Length);
            ip[6] = tcp ? IpProtocol.Tcp : IpProtocol.Udp;
            ip[7] = 64;
            ip[8] = 0xfd;
            ip[23] = 1;
            ip[24] = 0xfd;
            ip[39] = 2;
        }
        else
        {
            Ipv4Packet.WriteHeader(ip, 0xC0A86401, 0xC0A86402, tcp ? IpProtocol.Tcp : IpProtocol.Udp, (ushort)(ipHeader + l4Length), 0x1234, 64);
        }

        var l4 = ip.Slice(ipHeader);
        BinaryPrimitives.WriteUInt16BigEndian(l4, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(2), 5201);
        int checksumField;
        if (tcp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(l4.Slice(4), 0xFFFF_FF00); // wraps within the super-frame
            BinaryPrimitives.WriteUInt32BigEndian(l4.Slice(8), 77);
            l4[12] = (byte)((l4Header / 4) << 4);
            l4[13] = tcpFlags;
            BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(14), 512);
            for (int i = 20; i < l4Header; i++)
            {
                l4[i] = 1; // NOPs
            }

            checksumField = 16;
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(4), (ushort)l4Length);
            checksumField = 6;
        }

        for (int i = 0; i < payload; i++)
        {
            l4[l4Header + i] = (byte)(i * 7 + 3);
        }

        ushort pseudo = InternetChecksum.Fold(Offloads.PseudoHeaderSum(ip, ipv6, tcp ? IpProtocol.Tcp : IpProtocol.Udp, l4Length));
        BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(checksumField), pseudo);
        byte gso = payload <= gsoSize ? VirtioNetHeader.GsoNone : tcp ? (ipv6 ? VirtioNetHeader.GsoTcpV6 : VirtioNetHeader.GsoTcpV4) : VirtioNetHeader.GsoUdpL4;
        var offload = new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, gso, (ushort)(14 + ipHeader + l4Header), gso == 0 ? (ushort)0 : (ushort)gsoSize, (ushort)(14 + ipHeader), (ushort)checksumField);
        return (frame, offload);
    }

    /// <summary>An independent check of a finished frame's L4 checksum: the whole segment with its pseudo-header sums to all ones.</summary>
    private static bool L4ChecksumVerifies(ReadOnlySpan<byte> frame)
    {
        bool ipv6 = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(12)) == EtherType.Ipv6;
        var ip = frame.Slice(14);
        int ipHeader = ipv6 ? 40 : (ip[0] & 0xF) * 4;
        byte protocol = ipv6 ? ip[6] : ip[9];
        var l4 = ip.Slice(ipHeader);
        return InternetChecksum.Fold(InternetChecksum.Add(Offloads.PseudoHeaderSum(ip, ipv6, protocol, l4.Length), l4)) == 0xFFFF;
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(true, false)]
    public void A_partial_checksum_is_completed_in_place(bool ipv6, bool tcp)
    {
        var (frame, offload) = SuperFrame(ipv6, tcp, payload: 301, gsoSize: 1400);
        Assert.False(L4ChecksumVerifies(frame));

        Assert.True(Offloads.TryCompleteChecksum(frame, offload, out var reason), reason.ToString());

        Assert.True(L4ChecksumVerifies(frame));
    }

    [Fact]
    public void A_checksum_position_outside_the_frame_is_refused()
    {
        var (frame, offload) = SuperFrame(false, true, payload: 10, gsoSize: 1400);

        Assert.False(Offloads.TryCompleteChecksum(frame, offload with { ChecksumStart = (ushort)frame.Length }, out var reason));
        Assert.Equal(DropReason.BadOffload, reason);
        Assert.False(Offloads.TryCompleteChecksum(frame, offload with { ChecksumOffset = (ushort)(frame.Length - offload.ChecksumStart - 1) }, out _));
    }

    [Theory]
    [InlineData(false, 64000, 1398, 1464)]
    [InlineData(true, 64000, 1378, 1464)]
    [InlineData(false, 5000, 1398, 1000)] // the VM's MSS does not fit the segment: cut smaller
    [InlineData(false, 1399, 1398, 1464)] // one byte in the last segment
    public void A_tcp_super_frame_is_cut_into_complete_segments_that_fit_and_add_up(bool ipv6, int payload, int gsoSize, int maxFrame)
    {
        var (frame, offload) = SuperFrame(ipv6, tcp: true, payload, gsoSize, tcpFlags: 0x80 | 0x18 | 0x01); // CWR, PSH, ACK, FIN
        Assert.True(GsoSegmenter.TryCreate(frame, offload, maxFrame, out var segmenter, out var reason), reason.ToString());
        int headers = offload.HeaderLength;
        int mss = Math.Min(gsoSize, maxFrame - headers);
        Assert.Equal((payload + mss - 1) / mss, segmenter.Count);

        var buffer = new byte[maxFrame];
        var payloads = new List<byte>();
        uint expectedSequence = 0xFFFF_FF00;
        for (int i = 0; segmenter.TryNext(buffer, out int length); i++)
        {
            var segment = buffer.AsSpan(0, length);
            Assert.True(length <= maxFrame, $"segment {i} is {length} bytes");
            Assert.True(L4ChecksumVerifies(segment), $"segment {i}: TCP checksum");
            var ip = segment.Slice(14);
            int ipHeader = ipv6 ? 40 : 20;
            if (ipv6)
            {
                Assert.Equal(length - 14 - 40, BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(4)));
            }
            else
            {
                Assert.True(Ipv4Packet.TryParse(ip, out var v4, out var ipReason), $"segment {i}: {ipReason}");
                Assert.Equal(length - 14, v4.TotalLength);
                Assert.Equal((ushort)(0x1234 + i), v4.Identification);
            }

            var tcp = ip.Slice(ipHeader);
            Assert.Equal(expectedSequence, BinaryPrimitives.ReadUInt32BigEndian(tcp.Slice(4)));
            byte flags = tcp[13];
            bool first = i == 0, last = i == segmenter.Count - 1;
            Assert.Equal(first, (flags & 0x80) != 0); // CWR
            Assert.Equal(last, (flags & 0x01) != 0);  // FIN
            Assert.Equal(last, (flags & 0x08) != 0);  // PSH
            Assert.True((flags & 0x10) != 0);         // ACK on every one
            var data = segment.Slice(headers);
            payloads.AddRange(data.ToArray());
            expectedSequence += (uint)data.Length;
        }

        Assert.Equal(frame.AsSpan(headers).ToArray(), payloads.ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_udp_super_frame_is_cut_into_datagrams_of_the_vms_size_each_with_its_checksum(bool ipv6)
    {
        var (frame, offload) = SuperFrame(ipv6, tcp: false, payload: 5 * 1200 + 17, gsoSize: 1200);
        Assert.True(GsoSegmenter.TryCreate(frame, offload, 1464, out var segmenter, out var reason), reason.ToString());
        Assert.Equal(6, segmenter.Count);

        var buffer = new byte[1464];
        var sizes = new List<int>();
        while (segmenter.TryNext(buffer, out int length))
        {
            Assert.True(L4ChecksumVerifies(buffer.AsSpan(0, length)));
            var udp = buffer.AsSpan(14 + (ipv6 ? 40 : 20));
            sizes.Add(BinaryPrimitives.ReadUInt16BigEndian(udp.Slice(4)) - 8);
        }

        Assert.Equal([1200, 1200, 1200, 1200, 1200, 17], sizes);
    }

    [Fact]
    public void A_udp_super_frame_whose_datagrams_do_not_fit_the_segment_is_refused()
    {
        var (frame, offload) = SuperFrame(false, tcp: false, payload: 4000, gsoSize: 1472);

        Assert.False(GsoSegmenter.TryCreate(frame, offload, 1464, out _, out var reason));
        Assert.Equal(DropReason.SegmentTooLong, reason);
    }

    [Theory]
    [InlineData(VirtioNetHeader.GsoUdp)]
    [InlineData(9)]
    public void Gso_types_not_carried_out_are_refused(byte gsoType)
    {
        var (frame, offload) = SuperFrame(false, tcp: true, payload: 4000, gsoSize: 1398);

        Assert.False(GsoSegmenter.TryCreate(frame, offload with { GsoType = gsoType }, 1464, out _, out var reason));
        Assert.Equal(DropReason.BadOffload, reason);
    }

    [Fact]
    public void A_tcp_gso_type_on_a_udp_packet_is_refused()
    {
        var (frame, offload) = SuperFrame(false, tcp: false, payload: 4000, gsoSize: 1200);

        Assert.False(GsoSegmenter.TryCreate(frame, offload with { GsoType = VirtioNetHeader.GsoTcpV4 }, 1464, out _, out var reason));
        Assert.Equal(DropReason.BadOffload, reason);
    }

    [Fact]
    public void The_header_round_trips_little_endian_and_shifts_with_a_tag()
    {
        var header = new VirtioNetHeader(1, VirtioNetHeader.GsoTcpV4 | VirtioNetHeader.GsoEcn, 66, 1398, 34, 16);
        var bytes = new byte[VirtioNetHeader.Length];

        header.Write(bytes);

        Assert.Equal(new byte[] { 1, 0x81, 66, 0, 0x76, 0x05, 34, 0, 16, 0 }, bytes);
        Assert.Equal(header, VirtioNetHeader.Read(bytes));
        Assert.Equal(VirtioNetHeader.GsoTcpV4, header.GsoKind);
        Assert.Equal((70, 38), (header.Shifted(4).HeaderLength, header.Shifted(4).ChecksumStart));
        Assert.Equal(VirtioNetHeader.None, VirtioNetHeader.None.Shifted(4));
    }
}
