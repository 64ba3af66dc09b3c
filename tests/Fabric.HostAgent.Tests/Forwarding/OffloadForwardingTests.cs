using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Ports;
using Fabric.HostAgent.Tests.Wire;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>
/// Frames a VM hands over with its offloads undone (partial checksums, GSO super-frames): the wire
/// and ports that need finished frames get finished ones, segments no larger than the segment's MTU;
/// ports that take offloads get the super-frame whole with its <c>virtio_net_hdr</c>.
/// </summary>
[Trait("Category", "Unit")]
public sealed class OffloadForwardingTests
{
    private static readonly MacAddress Vm0 = Mac(0x100);
    private static readonly MacAddress Vm1 = Mac(0x101);

    /// <summary>A TCP super-frame from <paramref name="source"/> to <paramref name="destination"/>.</summary>
    private static (byte[] Frame, VirtioNetHeader Offload) SuperFrame(MacAddress destination, MacAddress source, int payload = 20_000, bool ipv6 = false, bool tcp = true)
    {
        var (frame, offload) = OffloadTests.SuperFrame(ipv6, tcp, payload, gsoSize: 1398);
        destination.Write(frame);
        source.Write(frame.AsSpan(6));
        return (frame, offload);
    }

    private static bool L4ChecksumVerifies(ReadOnlySpan<byte> frame)
    {
        bool ipv6 = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(12)) == EtherType.Ipv6;
        var ip = frame.Slice(14);
        int ipHeader = ipv6 ? 40 : (ip[0] & 0xF) * 4;
        var l4 = ip.Slice(ipHeader);
        return InternetChecksum.Fold(InternetChecksum.Add(Offloads.PseudoHeaderSum(ip, ipv6, ipv6 ? ip[6] : ip[9], l4.Length), l4)) == 0xFFFF;
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void A_super_frame_to_a_remote_mac_leaves_as_segments_that_fit_the_mtu_each_checksum_complete(bool ipv6, bool tcp)
    {
        var lab = new ForwardingLab();
        var (frame, offload) = SuperFrame(RemoteA, Vm0, ipv6: ipv6, tcp: tcp);
        if (!tcp)
        {
            offload = offload with { GsoSize = 1200 };
        }

        lab.FromPort(0, frame, offload);

        Assert.Empty(lab.TotalDrops());
        int headers = offload.HeaderLength;
        int expected = (frame.Length - headers + (tcp ? 1398 : 1200) - 1) / (tcp ? 1398 : 1200);
        Assert.Equal(expected, lab.Output.Datagrams.Count);
        Assert.All(lab.Output.Datagrams, d =>
        {
            Assert.Equal(Peer2, d.OuterDestination);
            Assert.True(d.Inner.Length <= lab.Snapshot.MaxInnerFrameLength, $"an inner frame of {d.Inner.Length} bytes");
            Assert.True(L4ChecksumVerifies(d.Inner));
        });
        Assert.Equal(frame.AsSpan(headers).ToArray(), lab.Output.Datagrams.SelectMany(d => d.Inner.Skip(headers)).ToArray());
        Assert.Equal(1, lab.Total.Received);
        Assert.Equal(expected, lab.Total.Encapsulated);
    }

    [Theory]
    [InlineData(false, true, 20_000)]
    [InlineData(true, true, 20_000)]
    [InlineData(false, false, 20_000)]
    [InlineData(false, true, 65_000)] // more than one send can carry (65,507 bytes): two trains
    public void With_udp_gso_a_super_frame_leaves_as_trains_that_cut_into_the_datagrams_the_raw_path_sends(bool ipv6, bool tcp, int payload)
    {
        var (frame, offload) = SuperFrame(RemoteA, Vm0, payload, ipv6: ipv6, tcp: tcp);
        if (!tcp)
        {
            offload = offload with { GsoSize = 1200 };
        }

        var raw = new ForwardingLab();
        raw.FromPort(0, frame.ToArray(), offload);
        var gso = new ForwardingLab();
        gso.Output.SegmentedBuckets = _ => true;
        gso.FromPort(0, frame.ToArray(), offload);

        Assert.Empty(gso.TotalDrops());
        Assert.Empty(gso.Output.Datagrams); // nothing went the raw way
        var datagrams = gso.Output.Trains.SelectMany(t => t.Datagrams).ToList();
        Assert.Equal(raw.Output.Datagrams.Count, datagrams.Count);
        Assert.Equal(raw.Output.Datagrams.Count, gso.Total.Encapsulated);
        Assert.All(gso.Output.Trains, t =>
        {
            Assert.InRange(t.Datagrams.Length, 2, VtepSocket.MaxSegmentsPerSend);
            Assert.True(t.Datagrams.Sum(d => d.Length) <= VtepSocket.MaxSegmentedPayload);
            Assert.All(t.Datagrams[..^1], d => Assert.Equal(t.DatagramLength, d.Length)); // UDP GSO: all but the last equal
            Assert.Equal(Peer2, t.Vtep.Address);
        });
        Assert.Equal(payload > 60_000 ? 2 : 1, gso.Output.Trains.Count);
        for (int i = 0; i < datagrams.Count; i++)
        {
            // Each datagram is a VXLAN header with the VNI, then the very inner frame the raw path sends.
            Assert.True(VxlanHeader.TryRead(datagrams[i], out var vni, out var reason), reason.ToString());
            Assert.Equal(VniA, vni.Value);
            Assert.Equal(raw.Output.Datagrams[i].Inner, datagrams[i][VxlanHeader.Length..]);
        }

        // The flow keeps its outer source port: the raw path's port is the bucket's (RFC 7348 §5).
        var range = SourcePortRange.Rfc7348;
        Assert.All(gso.Output.Trains, t => Assert.Equal(raw.Output.Datagrams[0].SourcePort, range.Port((ulong)t.Bucket)));
    }

    [Fact]
    public void A_super_frame_whose_bucket_has_no_gso_socket_goes_the_raw_way()
    {
        var (frame, offload) = SuperFrame(RemoteA, Vm0);
        var lab = new ForwardingLab();
        lab.Output.SegmentedBuckets = _ => false;
        lab.FromPort(0, frame, offload);
        Assert.Empty(lab.Output.Trains);
        Assert.Equal(15, lab.Output.Datagrams.Count); // 20,000 bytes in 1,398-byte segments
    }

    [Fact]
    public void A_refused_train_counts_every_datagram_in_it_as_send_failed()
    {
        var (frame, offload) = SuperFrame(RemoteA, Vm0);
        var lab = new ForwardingLab();
        lab.Output.SegmentedBuckets = _ => true;
        lab.Output.Accept = false;
        lab.FromPort(0, frame, offload);
        Assert.Single(lab.Output.Trains);
        Assert.Equal(15, lab.Counters.Vtep.DropsOf(DataPlaneDrop.SendFailed));
        Assert.Equal(0, lab.Total.Encapsulated);
    }

    [Fact]
    public void A_super_frame_to_a_local_port_that_takes_offloads_goes_whole_with_its_header()
    {
        var lab = new ForwardingLab();
        lab.Output.OffloadPorts.Add(1);
        lab.Seed(1, VniA, Vm1);
        var (frame, offload) = SuperFrame(Vm1, Vm0);

        lab.FromPort(0, frame, offload);

        var sent = Assert.Single(lab.Output.Frames);
        Assert.Equal((1, offload), (sent.Port, sent.Offload));
        Assert.Equal(frame, sent.Frame);
    }

    [Fact]
    public void A_super_frame_to_a_local_port_that_takes_finished_frames_only_is_cut_for_it()
    {
        var lab = new ForwardingLab();
        lab.Seed(1, VniA, Vm1);
        var (frame, offload) = SuperFrame(Vm1, Vm0, payload: 5000);

        lab.FromPort(0, frame, offload);

        Assert.Equal(4, lab.Output.Frames.Count);
        Assert.All(lab.Output.Frames, f =>
        {
            Assert.Equal((1, VirtioNetHeader.None), (f.Port, f.Offload));
            Assert.True(L4ChecksumVerifies(f.Frame));
        });
    }

    [Fact]
    public void A_flooded_super_frame_reaches_offload_ports_whole_and_every_vtep_in_segments()
    {
        var lab = new ForwardingLab();
        lab.Output.OffloadPorts.Add(1);
        var (frame, offload) = SuperFrame(Mac(0x999), Vm0, payload: 4000); // unknown unicast

        lab.FromPort(0, frame, offload);

        Assert.Equal(frame, lab.Output.Frames.Single(f => f.Port == 1).Frame);
        Assert.Equal(3, lab.Output.Frames.Count(f => f.Port == 2)); // pcap-like port: segments
        Assert.Equal(3, lab.Output.Frames.Count(f => f.Port == TrunkPort));
        Assert.Equal(3, lab.Output.Datagrams.Count(d => d.OuterDestination == Peer2));
        Assert.Equal(3, lab.Output.Datagrams.Count(d => d.OuterDestination == Peer3));
        Assert.All(lab.Output.Datagrams, d => Assert.True(L4ChecksumVerifies(d.Inner)));
    }

    [Fact]
    public void A_partial_checksum_is_completed_once_for_the_wire_and_left_to_the_kernel_for_offload_ports()
    {
        var lab = new ForwardingLab();
        lab.Output.OffloadPorts.Add(1);
        var (frame, offload) = SuperFrame(MacAddress.Broadcast, Vm0, payload: 300);
        Assert.False(offload.IsGso);

        lab.FromPort(0, frame, offload);

        var toOffloadPort = lab.Output.Frames.Single(f => f.Port == 1);
        Assert.True(toOffloadPort.Offload.NeedsChecksum);
        Assert.All(lab.Output.Frames.Where(f => f.Port != 1), f => Assert.True(L4ChecksumVerifies(f.Untagged()), $"port {f.Port}"));
        Assert.Equal(2, lab.Output.Datagrams.Count);
        Assert.All(lab.Output.Datagrams, d => Assert.True(L4ChecksumVerifies(d.Inner)));
    }

    [Fact]
    public void A_tag_popped_at_a_trunk_and_pushed_at_another_moves_the_offload_positions_with_it()
    {
        var lab = new ForwardingLab();
        lab.Output.OffloadPorts.Add(TrunkPort);
        var (untagged, offload) = SuperFrame(MacAddress.Broadcast, Vm0, payload: 3000);
        var tagged = new byte[untagged.Length + VlanTagging.TagLength];
        Assert.True(VlanTagging.TryPush(untagged, tagged, new VlanTag(VidA), out _, out _));

        lab.FromPort(TrunkWithoutNative, tagged, offload.Shifted(VlanTagging.TagLength));

        var atTrunk = lab.Output.Frames.Single(f => f.Port == TrunkPort);
        Assert.Equal(VidA, atTrunk.Vid);
        Assert.Equal(offload.Shifted(VlanTagging.TagLength), atTrunk.Offload);
        Assert.All(lab.Output.Datagrams, d => Assert.True(L4ChecksumVerifies(d.Inner)));
        Assert.Equal(untagged.AsSpan(offload.HeaderLength).ToArray(), lab.Output.Datagrams.Where(d => d.OuterDestination == Peer2).SelectMany(d => d.Inner.Skip(offload.HeaderLength)).ToArray());
    }

    [Fact]
    public void An_offload_the_agent_cannot_carry_out_is_dropped_and_counted()
    {
        var lab = new ForwardingLab();
        var (frame, offload) = SuperFrame(RemoteA, Vm0);

        lab.FromPort(0, frame, offload with { GsoType = VirtioNetHeader.GsoUdp });
        lab.FromPort(0, frame, offload with { GsoType = VirtioNetHeader.GsoNone, ChecksumStart = 60000 });

        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(2, lab.Counters.Vtep.MalformedOf(DropReason.BadOffload));
    }

    [Fact]
    public void Udp_datagrams_larger_than_the_segment_mtu_are_dropped_as_too_long()
    {
        var lab = new ForwardingLab();
        var (frame, offload) = SuperFrame(RemoteA, Vm0, tcp: false);

        lab.FromPort(0, frame, offload with { GsoSize = 1472 });

        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(1, lab.Total.DropsOf(DataPlaneDrop.TooLong));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // super-frames to the VTEP leave as UDP GSO trains
    public void Cutting_and_finishing_offloaded_frames_allocates_nothing(bool udpGso)
    {
        var lab = new ForwardingLab();
        lab.Output.Recording = false;
        lab.Output.SegmentedBuckets = _ => udpGso;
        lab.Output.OffloadPorts.Add(1);
        var (toRemote, gso) = SuperFrame(RemoteA, Vm0);
        var (flooded, partial) = SuperFrame(MacAddress.Broadcast, Vm0, payload: 300);
        var slot = new byte[FrameBatch.Headroom + FrameBatch.GsoMaxFrameLength];
        var scratch = new ForwardingScratch();
        void Run()
        {
            toRemote.CopyTo(slot.AsSpan(FrameBatch.Headroom));
            lab.DataPlane.FromPort(0, slot, toRemote.Length, scratch, gso);
            flooded.CopyTo(slot.AsSpan(FrameBatch.Headroom));
            lab.DataPlane.FromPort(0, slot, flooded.Length, scratch, partial);
        }

        for (int i = 0; i < 100; i++)
        {
            Run();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Run();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Empty(lab.TotalDrops());

        // With UDP GSO the 15 datagrams of each super-frame left in one send: 14 sends fewer per round.
        Assert.Equal(udpGso ? 14L * 1100 : 0, lab.Total.Encapsulated - lab.Output.VtepSends);
    }
}
