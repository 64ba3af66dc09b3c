using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;

namespace Fabric.HostAgent.Tests.Forwarding;

[Trait("Category", "Unit")]
public sealed class AccessPortTests
{
    private static readonly Fabric.Addressing.MacAddress Vm0 = Mac(0x100);
    private static readonly Fabric.Addressing.MacAddress Vm1 = Mac(0x101);

    [Fact]
    public void Untagged_frame_to_a_mac_learned_on_another_local_port_of_the_same_vni_is_delivered_only_there()
    {
        var lab = new ForwardingLab();
        lab.Seed(1, VniA, Vm1);
        byte[] frame = Frame(Vm1, Vm0);

        lab.FromPort(0, frame);

        var sent = Assert.Single(lab.Output.Frames);
        Assert.Equal(1, sent.Port);
        Assert.Equal(frame, sent.Frame);
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(1, lab.Total.Received);
        Assert.Equal(1, lab.Total.Delivered);
        Assert.Equal(0, lab.Total.Flooded);
        Assert.Equal(0, lab.Total.Encapsulated);
        Assert.Equal(0, lab.Total.TotalDrops);
        Assert.Equal(1, lab.Counters.Ports[0].Received);
        Assert.Equal(1, lab.Counters.Ports[1].Delivered);
        Assert.Equal(1, lab.SegmentCounters(VniA).Delivered);
        Assert.Equal(0, lab.SegmentCounters(VniB).Received);
    }

    [Fact]
    public void A_mac_learned_in_another_vni_is_not_a_local_destination()
    {
        var lab = new ForwardingLab();
        lab.Seed(3, VniB, Vm1);

        lab.FromPort(0, Frame(Vm1, Vm0));

        // Unknown in VNI A: flooded within A, never to port 3 (VNI B).
        Assert.DoesNotContain(3, lab.Output.PortsReached);
        Assert.All(lab.Output.Frames, f => Assert.Equal(VniA, lab.VniOfDelivery(f)));
        Assert.Equal(1, lab.Total.Flooded);
    }

    [Fact]
    public void A_tagged_frame_on_an_access_port_is_dropped_as_tagged_on_access_port()
    {
        var lab = new ForwardingLab();
        lab.Seed(1, VniA, Vm1);

        lab.FromPort(0, Frame(Vm1, Vm0, vid: VidA));

        Assert.Empty(lab.Output.Frames);
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(1, lab.Counters.Ports[0].DropsOf(DataPlaneDrop.TaggedOnAccessPort));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.TaggedOnAccessPort] = 1 }, lab.TotalDrops());
        Assert.False(lab.Macs.TryGet(VniA, Vm0.Value, out _));
    }

    [Theory]
    [InlineData(0, EtherType.ServiceVlan)]
    [InlineData(0, EtherType.Vlan)]
    [InlineData(0, EtherType.LegacyQinQ)]
    [InlineData(TrunkPort, EtherType.ServiceVlan)]
    [InlineData(TrunkPort, EtherType.Vlan)]
    public void A_double_tagged_frame_is_dropped_once_as_stacked_vlan_tags(int port, ushort outerTpid)
    {
        var lab = new ForwardingLab();
        lab.Seed(1, VniA, Vm1);

        lab.FromPort(port, DoubleTagged(Vm1, Vm0, outerTpid, outerVid: VidA, innerVid: VidB));

        Assert.Empty(lab.Output.Frames);
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(1, lab.Counters.Ports[port].DropsOf(DataPlaneDrop.StackedVlanTags));
        Assert.Equal(1, lab.Counters.Ports[port].TotalDrops);

        // One frame, one drop: counted once, under its own reason.
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.StackedVlanTags] = 1 }, lab.TotalDrops());
    }

    [Fact]
    public void A_frame_on_a_port_without_a_port_group_is_dropped_as_no_segment()
    {
        var lab = new ForwardingLab();

        lab.FromPort(PortWithoutSegment, Broadcast(Vm0));

        Assert.Empty(lab.Output.Frames);
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.NoSegment] = 1 }, lab.TotalDrops());
        Assert.Equal(0, lab.Macs.Count);
    }

    [Fact]
    public void A_priority_tagged_frame_on_an_access_port_is_forwarded_as_untagged_in_the_ports_vni()
    {
        // IEEE 802.1Q: VID 0 carries only a priority; the frame belongs to the port's untagged VLAN.
        var lab = new ForwardingLab();
        lab.Seed(1, VniA, Vm1);
        byte[] untagged = Frame(Vm1, Vm0);
        byte[] priorityTagged = Frame(Vm1, Vm0, vid: 0);

        lab.FromPort(0, priorityTagged);

        var sent = Assert.Single(lab.Output.Frames);
        Assert.Equal(1, sent.Port);
        Assert.Equal(untagged, sent.Frame);
        Assert.Equal(0, lab.Total.TotalDrops);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(13)]
    public void A_runt_frame_is_counted_as_malformed_and_goes_nowhere(int length)
    {
        var lab = new ForwardingLab();

        lab.FromPort(0, Frame(Vm1, Vm0).AsSpan(0, length));

        Assert.Empty(lab.Output.Frames);
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(1, lab.Counters.Ports[0].MalformedOf(DropReason.Truncated));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.Malformed] = 1 }, lab.TotalDrops());
    }

    [Fact]
    public void A_refused_injection_is_counted_as_send_failed()
    {
        var lab = new ForwardingLab();
        lab.Seed(1, VniA, Vm1);
        lab.Output.Accept = false;

        lab.FromPort(0, Frame(Vm1, Vm0));

        Assert.Equal(0, lab.Total.Delivered);
        Assert.Equal(1, lab.Counters.Ports[1].DropsOf(DataPlaneDrop.SendFailed));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.SendFailed] = 1 }, lab.TotalDrops());
    }
}
