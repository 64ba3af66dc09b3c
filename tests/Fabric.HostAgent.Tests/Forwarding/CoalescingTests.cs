using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Tests.Wire;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>
/// Receive coalescing: consecutive TCP segments of one flow from the underlay reach a local port that
/// takes offloads as one super-frame with a virtio_net_hdr (as the kernel's GRO hands them to a
/// stack), in order, with nothing reordered around them and nothing joined that GRO would not join.
/// </summary>
[Trait("Category", "Unit")]
public sealed class CoalescingTests
{
    private static readonly MacAddress Vm1 = Mac(0x101);

    /// <summary>A TCP stream from RemoteA to Vm1 cut into finished segments of 1398 bytes, as the sender's agent sends them.</summary>
    private static List<byte[]> Segments(int payload, byte flags = 0x10, bool ipv6 = false)
    {
        var (frame, offload) = OffloadTests.SuperFrame(ipv6, tcp: true, payload, gsoSize: 1398, tcpFlags: flags);
        Vm1.Write(frame);
        RemoteA.Write(frame.AsSpan(6));
        if (!offload.IsGso)
        {
            Assert.True(Offloads.TryCompleteChecksum(frame, offload, out _));
            return [frame];
        }

        Assert.True(GsoSegmenter.TryCreate(frame, offload, 1464, out var segmenter, out _));
        var segments = new List<byte[]>();
        var buffer = new byte[1464];
        while (segmenter.TryNext(buffer, out int length))
        {
            segments.Add(buffer.AsSpan(0, length).ToArray());
        }

        return segments;
    }

    private static ForwardingLab Lab()
    {
        var lab = new ForwardingLab();
        lab.Output.OffloadPorts.Add(1);
        lab.Seed(1, VniA, Vm1);
        return lab;
    }

    private static void Receive(ForwardingLab lab, IEnumerable<byte[]> inner)
    {
        foreach (var frame in inner)
        {
            lab.FromVtep(Peer2, Datagram(VniA, frame));
        }

        lab.DataPlane.FlushCoalesced(lab.Scratch);
    }

    private static bool L4ChecksumVerifies(ReadOnlySpan<byte> frame)
    {
        var ip = frame.Slice(14);
        bool ipv6 = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(12)) == EtherType.Ipv6;
        var l4 = ip.Slice(ipv6 ? 40 : 20);
        return InternetChecksum.Fold(InternetChecksum.Add(Offloads.PseudoHeaderSum(ip, ipv6, IpProtocol.Tcp, l4.Length), l4)) == 0xFFFF;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Consecutive_segments_of_a_stream_reach_the_vm_as_one_super_frame_that_cuts_back_into_them(bool ipv6)
    {
        var lab = Lab();
        var segments = Segments(20_000, ipv6: ipv6);

        Receive(lab, segments);

        var sent = Assert.Single(lab.Output.Frames);
        Assert.Equal(1, sent.Port);
        Assert.True(sent.Offload.IsGso);
        Assert.True(sent.Offload.NeedsChecksum);
        Assert.Equal(ipv6 ? VirtioNetHeader.GsoTcpV6 : VirtioNetHeader.GsoTcpV4, sent.Offload.GsoKind);
        int headers = 14 + (ipv6 ? 40 : 20) + 32;
        Assert.Equal(segments[0].Length - headers, sent.Offload.GsoSize);

        // What the VM's stack (or a NIC) would cut it back into is exactly what was sent.
        Assert.True(GsoSegmenter.TryCreate(sent.Frame, sent.Offload, 1464, out var segmenter, out var reason), reason.ToString());
        var buffer = new byte[1464];
        var again = new List<byte[]>();
        while (segmenter.TryNext(buffer, out int length))
        {
            again.Add(buffer.AsSpan(0, length).ToArray());
        }

        Assert.Equal(segments.Count, again.Count);
        for (int i = 0; i < segments.Count; i++)
        {
            Assert.Equal(segments[i].AsSpan(headers).ToArray(), again[i].AsSpan(headers).ToArray());
            Assert.True(L4ChecksumVerifies(again[i]));
        }
    }

    [Fact]
    public void A_gap_in_the_sequence_starts_a_new_super_frame_and_order_is_kept()
    {
        var lab = Lab();
        var segments = Segments(10_000);
        var reordered = segments.Take(3).Concat(segments.Skip(4)).Append(segments[3]).ToList();

        Receive(lab, reordered);

        var sequences = lab.Output.Frames.Select(f => BinaryPrimitives.ReadUInt32BigEndian(f.Frame.AsSpan(14 + 20 + 4))).ToList();
        Assert.Equal(3, lab.Output.Frames.Count); // 0..2, 4..end, 3
        Assert.Equal(
            [Seq(segments[0]), Seq(segments[4]), Seq(segments[3])],
            sequences);
        Assert.Equal(segments.Sum(s => s.Length - 66), lab.Output.Frames.Sum(f => f.Frame.Length - 66));

        static uint Seq(byte[] segment) => BinaryPrimitives.ReadUInt32BigEndian(segment.AsSpan(14 + 20 + 4));
    }

    [Fact]
    public void A_frame_that_cannot_join_goes_after_what_was_joined_before_it()
    {
        var lab = Lab();
        var segments = Segments(5000);
        byte[] arp = Wire.TestFrames.ArpRequest(RemoteA, 0x0A000002, 0x0A000001);
        Vm1.Write(arp);

        Receive(lab, [segments[0], segments[1], arp, segments[2], segments[3]]);

        Assert.Equal(3, lab.Output.Frames.Count);
        Assert.True(lab.Output.Frames[0].Offload.IsGso);
        Assert.Equal(arp, lab.Output.Frames[1].Frame);
        Assert.True(lab.Output.Frames[2].Offload.IsGso);
    }

    [Theory]
    [InlineData(0x11)] // FIN
    [InlineData(0x12)] // SYN
    [InlineData(0x14)] // RST
    [InlineData(0x90)] // CWR
    public void Segments_with_control_flags_are_never_joined(byte flags)
    {
        var lab = Lab();
        var segments = Segments(5000, flags);

        Receive(lab, segments);

        // Every segment carrying a control flag goes alone; each run of plain segments between them is one frame.
        var expected = new List<bool>(); // true: a joined super-frame
        int run = 0;
        foreach (var segment in segments)
        {
            if ((segment[14 + 20 + 13] & 0xE7) != 0)
            {
                if (run > 0)
                {
                    expected.Add(run > 1);
                }

                run = 0;
                expected.Add(false);
            }
            else
            {
                run++;
            }
        }

        if (run > 0)
        {
            expected.Add(run > 1);
        }

        Assert.Equal(expected, lab.Output.Frames.Select(f => f.Offload.IsGso));
        Assert.All(lab.Output.Frames.Where(f => (f.Frame[14 + 20 + 13] & 0xE7) != 0), f => Assert.False(f.Offload.HasWork));
    }

    [Fact]
    public void A_segment_whose_checksum_fails_goes_on_alone_for_the_vm_to_drop()
    {
        var lab = Lab();
        var segments = Segments(5000);
        segments[2][^1] ^= 0xFF;

        Receive(lab, segments);

        Assert.Equal(3, lab.Output.Frames.Count);
        Assert.Equal(segments[2], lab.Output.Frames[1].Frame);
        Assert.False(lab.Output.Frames[1].Offload.HasWork);
    }

    [Fact]
    public void A_port_that_takes_finished_frames_only_gets_the_segments_as_they_came()
    {
        var lab = Lab();
        lab.Output.OffloadPorts.Clear();
        var segments = Segments(5000);

        Receive(lab, segments);

        Assert.Equal(segments, lab.Output.Frames.Select(f => f.Frame));
    }

    [Fact]
    public void Joining_allocates_nothing()
    {
        var lab = Lab();
        lab.Output.Recording = false;
        var datagrams = Segments(60_000).Select(s => Datagram(VniA, s)).ToList();
        var slot = new byte[Fabric.HostAgent.Ports.FrameBatch.Headroom + Fabric.HostAgent.Ports.FrameBatch.DefaultMaxFrameLength];
        var scratch = lab.Scratch;
        void Run()
        {
            foreach (var datagram in datagrams)
            {
                datagram.CopyTo(slot.AsSpan(Fabric.HostAgent.Ports.FrameBatch.Headroom));
                lab.DataPlane.FromVtep(Peer2, slot, datagram.Length, scratch);
            }

            lab.DataPlane.FlushCoalesced(scratch);
        }

        for (int i = 0; i < 20; i++)
        {
            Run();
        }

        long sends = lab.Output.PortSends;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++)
        {
            Run();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(200, lab.Output.PortSends - sends);
    }
}
