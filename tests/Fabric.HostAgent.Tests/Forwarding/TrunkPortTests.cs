using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;

namespace Fabric.HostAgent.Tests.Forwarding;

[Trait("Category", "Unit")]
public sealed class TrunkPortTests
{
    private static readonly MacAddress Vm0 = Mac(0x100);
    private static readonly MacAddress Guest = Mac(0x444);

    [Fact]
    public void A_tagged_frame_with_a_carried_vid_is_encapsulated_untagged_in_that_port_groups_vni()
    {
        var lab = new ForwardingLab();
        byte[] tagged = Frame(RemoteB, Guest, vid: VidB);

        lab.FromPort(TrunkPort, tagged);

        var datagram = Assert.Single(lab.Output.Datagrams);
        Assert.Equal(VniB, datagram.Vni);
        Assert.Equal(PeerB, datagram.OuterDestination);
        Assert.Equal(Frame(RemoteB, Guest), datagram.Inner);
        Assert.True(EthernetFrame.TryParse(datagram.Inner, out var inner, out _));
        Assert.False(inner.IsTagged);
        Assert.Empty(lab.Output.Frames);
        Assert.True(lab.Macs.TryGet(VniB, Guest.Value, out var learned));
        Assert.Equal(TrunkPort, learned.Port);
    }

    [Fact]
    public void A_flooded_tagged_frame_reaches_vteps_untagged_and_access_ports_untagged()
    {
        var lab = new ForwardingLab();
        byte[] untagged = Broadcast(Guest);

        lab.FromPort(TrunkPort, Broadcast(Guest, vid: VidA));

        Assert.Equal([0, 1, 2, TrunkWithoutNative], lab.Output.PortsReached.Order());
        Assert.All(lab.Output.Frames.Where(f => f.Port != TrunkWithoutNative), f => Assert.Equal(untagged, f.Frame));
        Assert.Equal(VidA, lab.Output.Frames.Single(f => f.Port == TrunkWithoutNative).Vid);
        Assert.Equal(2, lab.Output.Datagrams.Count);
        Assert.All(lab.Output.Datagrams, d => Assert.Equal(untagged, d.Inner));
        Assert.All(lab.Output.Datagrams, d => Assert.Equal(VniA, d.Vni));
    }

    [Fact]
    public void A_frame_from_an_access_port_to_a_mac_on_the_trunk_is_tagged_with_that_vnis_vid()
    {
        var lab = new ForwardingLab();
        lab.Seed(TrunkPort, VniB, Guest);
        byte[] frame = Frame(Guest, Vm0);

        lab.FromPort(5, frame);

        var sent = Assert.Single(lab.Output.Frames);
        Assert.Equal(TrunkPort, sent.Port);
        Assert.True(sent.IsTagged);
        Assert.Equal(VidB, sent.Vid);
        Assert.Equal(frame, sent.Untagged());
        Assert.Equal(1, lab.Counters.Ports[TrunkPort].Delivered);
    }

    [Fact]
    public void A_frame_in_the_native_vni_leaves_the_trunk_untagged()
    {
        var lab = new ForwardingLab();
        lab.Seed(TrunkPort, VniNative, Guest);
        byte[] frame = Frame(Guest, Vm0);

        lab.FromPort(NativeAccessPort, frame);

        var sent = Assert.Single(lab.Output.Frames);
        Assert.Equal(TrunkPort, sent.Port);
        Assert.Equal(frame, sent.Frame);
    }

    [Fact]
    public void A_vid_the_trunk_does_not_carry_is_dropped_as_vlan_not_allowed()
    {
        var lab = new ForwardingLab();

        lab.FromPort(TrunkPort, Broadcast(Guest, vid: 30));
        lab.FromPort(TrunkWithoutNative, Broadcast(Guest, vid: VidB));

        Assert.Empty(lab.Output.Frames);
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(0, lab.Macs.Count);
        Assert.Equal(1, lab.Counters.Ports[TrunkPort].DropsOf(DataPlaneDrop.VlanNotAllowed));
        Assert.Equal(1, lab.Counters.Ports[TrunkWithoutNative].DropsOf(DataPlaneDrop.VlanNotAllowed));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.VlanNotAllowed] = 2 }, lab.TotalDrops());
    }

    [Fact]
    public void An_untagged_frame_on_a_trunk_is_in_the_native_vni()
    {
        var lab = new ForwardingLab();
        byte[] frame = Broadcast(Guest);

        lab.FromPort(TrunkPort, frame);

        var sent = Assert.Single(lab.Output.Frames);
        Assert.Equal(NativeAccessPort, sent.Port);
        Assert.Equal(frame, sent.Frame);
        var datagram = Assert.Single(lab.Output.Datagrams);
        Assert.Equal(VniNative, datagram.Vni);
        Assert.Equal(Peer3, datagram.OuterDestination);
        Assert.True(lab.Macs.TryGet(VniNative, Guest.Value, out _));
    }

    [Fact]
    public void An_untagged_frame_on_a_trunk_without_a_native_vlan_is_dropped_as_vlan_not_allowed()
    {
        var lab = new ForwardingLab();

        lab.FromPort(TrunkWithoutNative, Broadcast(Guest));

        Assert.Empty(lab.Output.Frames);
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.VlanNotAllowed] = 1 }, lab.TotalDrops());
    }

    [Fact]
    public void A_frame_between_two_vlans_of_one_trunk_is_not_bridged()
    {
        var lab = new ForwardingLab();
        lab.Seed(TrunkPort, VniB, Vm0);

        // Vm0 is known in B only; a frame to it on VLAN A stays in A.
        lab.FromPort(TrunkPort, Frame(Vm0, Guest, vid: VidA));

        Assert.All(lab.Output.Frames, f => Assert.Equal(VniA, lab.VniOfDelivery(f)));
        Assert.DoesNotContain(lab.Output.Frames, f => f.Port == TrunkPort);
        Assert.All(lab.Output.Datagrams, d => Assert.Equal(VniA, d.Vni));
    }
}
