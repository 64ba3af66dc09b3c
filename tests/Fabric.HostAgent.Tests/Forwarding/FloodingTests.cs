using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Ports;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;

namespace Fabric.HostAgent.Tests.Forwarding;

[Trait("Category", "Unit")]
public sealed class FloodingTests
{
    private static readonly MacAddress Vm0 = Mac(0x100);

    public static TheoryData<string> FloodedDestinations => ["ff:ff:ff:ff:ff:ff", "02:00:00:00:99:99", "01:00:5e:00:00:fb", "33:33:00:00:00:01"];

    [Theory]
    [MemberData(nameof(FloodedDestinations))]
    public void Broadcast_multicast_and_unknown_unicast_reach_every_other_local_port_of_the_vni_and_every_vtep_once(string destination)
    {
        var lab = new ForwardingLab();
        byte[] frame = Frame(MacAddress.Parse(destination), Vm0);

        lab.FromPort(0, frame);

        // Local: ports 1, 2 (access A) and the two trunks tagged with A's VID; not the ingress, not B or native ports.
        Assert.Equal([1, 2, TrunkPort, TrunkWithoutNative], lab.Output.PortsReached.Order());
        foreach (var sent in lab.Output.Frames)
        {
            Assert.Equal(VniA, lab.VniOfDelivery(sent));
            Assert.Equal(frame, sent.Untagged());
        }

        Assert.Equal(VidA, lab.Output.Frames.Single(f => f.Port == TrunkPort).Vid);
        Assert.False(lab.Output.Frames.Single(f => f.Port == 1).IsTagged);

        // Head-end replication: one datagram per VTEP of the flood list, each a well-formed VXLAN packet.
        Assert.Equal([Peer2, Peer3], lab.Output.Datagrams.Select(d => d.OuterDestination).Order());
        foreach (var datagram in lab.Output.Datagrams)
        {
            Assert.Equal(datagram.Vtep.Address, datagram.OuterDestination);
            Assert.Equal(VniA, datagram.Vni);
            Assert.Equal(Self, datagram.OuterSource);
            Assert.Equal(VxlanHeader.DefaultPort, datagram.DestinationPort);
            Assert.InRange(datagram.SourcePort, FlowHash.MinSourcePort, FlowHash.MaxSourcePort);
            Assert.Equal(FlowHash.SourcePort(frame), datagram.SourcePort);
            Assert.True(datagram.DontFragment);
            Assert.Equal(frame, datagram.Inner);
        }

        Assert.Equal(1, lab.Total.Received);
        Assert.Equal(1, lab.Total.Flooded);
        Assert.Equal(4, lab.Total.Delivered);
        Assert.Equal(2, lab.Total.Encapsulated);
        Assert.Equal(0, lab.Total.TotalDrops);
        Assert.Equal(1, lab.SegmentCounters(VniA).Flooded);
        Assert.Equal(2, lab.SegmentCounters(VniA).Encapsulated);
        Assert.Equal(0, lab.SegmentCounters(VniB).Delivered);
        Assert.Equal(0, lab.Counters.Ports[0].Delivered);
        Assert.Equal(0, lab.Counters.Ports[3].Delivered);
    }

    [Fact]
    public void A_broadcast_in_vni_b_reaches_only_the_ports_and_vteps_of_vni_b()
    {
        var lab = new ForwardingLab();
        byte[] frame = Broadcast(Vm0);

        lab.FromPort(3, frame);

        Assert.Equal([TrunkPort, 5], lab.Output.PortsReached.Order());
        Assert.Equal(VidB, lab.Output.Frames.Single(f => f.Port == TrunkPort).Vid);
        var datagram = Assert.Single(lab.Output.Datagrams);
        Assert.Equal(PeerB, datagram.OuterDestination);
        Assert.Equal(VniB, datagram.Vni);
        Assert.Equal(frame, datagram.Inner);
    }

    [Fact]
    public void A_frame_to_a_known_remote_mac_is_one_datagram_to_its_vtep_and_nothing_local()
    {
        var lab = new ForwardingLab();
        byte[] frame = Frame(RemoteA, Vm0);

        lab.FromPort(0, frame);

        Assert.Empty(lab.Output.Frames);
        var datagram = Assert.Single(lab.Output.Datagrams);
        Assert.Same(lab.Vtep(Peer2), datagram.Vtep);
        Assert.Equal(Peer2, datagram.OuterDestination);
        Assert.Equal(Self, datagram.OuterSource);
        Assert.Equal(VniA, datagram.Vni);
        Assert.Equal(VxlanHeader.DefaultPort, datagram.DestinationPort);
        Assert.InRange(datagram.SourcePort, FlowHash.MinSourcePort, FlowHash.MaxSourcePort);
        Assert.Equal(frame, datagram.Inner);
        Assert.Equal(1, lab.Total.Encapsulated);
        Assert.Equal(0, lab.Total.Flooded);
        Assert.Equal(0, lab.Total.Delivered);
        Assert.Equal(1, lab.SegmentCounters(VniA).Encapsulated);
    }

    [Fact]
    public void A_remote_mac_of_another_vni_is_unknown_here_and_flooded_within_the_ingress_vni()
    {
        var lab = new ForwardingLab();

        lab.FromPort(0, Frame(RemoteB, Vm0));

        Assert.Equal([Peer2, Peer3], lab.Output.Datagrams.Select(d => d.OuterDestination).Order());
        Assert.All(lab.Output.Datagrams, d => Assert.Equal(VniA, d.Vni));
    }

    [Fact]
    public void The_udp_source_port_follows_the_inner_flow()
    {
        var lab = new ForwardingLab();

        lab.FromPort(0, Frame(RemoteA, Vm0, flow: 40000));
        lab.FromPort(0, Frame(RemoteA, Vm0, flow: 40000));
        for (ushort flow = 40001; flow < 40033; flow++)
        {
            lab.FromPort(0, Frame(RemoteA, Vm0, flow: flow));
        }

        var ports = lab.Output.Datagrams.Select(d => d.SourcePort).ToArray();
        Assert.Equal(ports[0], ports[1]);
        Assert.All(ports, p => Assert.InRange(p, FlowHash.MinSourcePort, FlowHash.MaxSourcePort));
        Assert.True(ports.Distinct().Count() > 16, "different flows should spread over source ports");
    }

    [Fact]
    public void The_configured_vxlan_port_is_the_outer_destination_port()
    {
        var lab = new ForwardingLab(vxlanPort: 8472);

        lab.FromPort(0, Frame(RemoteA, Vm0));

        Assert.Equal(8472, Assert.Single(lab.Output.Datagrams).DestinationPort);
    }

    [Fact]
    public void A_datagram_the_kernel_refuses_is_counted_as_send_failed()
    {
        var lab = new ForwardingLab();
        lab.Output.Accept = false;

        lab.FromPort(0, Frame(RemoteA, Vm0));

        Assert.Equal(0, lab.Total.Encapsulated);
        Assert.Equal(1, lab.Counters.Vtep.DropsOf(DataPlaneDrop.SendFailed));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.SendFailed] = 1 }, lab.TotalDrops());
    }

    [Fact]
    public void A_frame_too_long_to_encapsulate_is_dropped_once_as_too_long()
    {
        var lab = new ForwardingLab();
        int length = VxlanEncapsulator.MaxInnerFrameLength + 1;
        var slot = new byte[FrameBatch.Headroom + length];
        EthernetFrame.WriteHeader(slot.AsSpan(FrameBatch.Headroom), RemoteA, Vm0, EtherType.Ipv4);

        lab.DataPlane.FromPort(0, slot, length, lab.Scratch);

        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(1, lab.SegmentCounters(VniA).DropsOf(DataPlaneDrop.TooLong));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.TooLong] = 1 }, lab.TotalDrops());
    }
}
