using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;

namespace Fabric.HostAgent.Tests.Forwarding;

[Trait("Category", "Unit")]
public sealed class LearningTests
{
    private static readonly MacAddress Vm0 = Mac(0x100);
    private static readonly MacAddress Vm1 = Mac(0x101);

    private static MacKey[] Drain(LocalMacTable macs)
    {
        var drained = new List<MacKey>();
        while (macs.TryTakeLearned(out var learned))
        {
            drained.Add(learned);
        }

        return [.. drained];
    }

    [Fact]
    public void A_source_mac_is_learned_and_queued_for_publishing_once_not_per_frame()
    {
        var lab = new ForwardingLab();

        for (int i = 0; i < 5; i++)
        {
            lab.FromPort(0, Broadcast(Vm0));
        }

        Assert.True(lab.Macs.TryGet(VniA, Vm0.Value, out var entry));
        Assert.Equal(0, entry.Port);
        Assert.Equal(1, lab.Macs.CountOnPort(0));
        Assert.Equal([new MacKey(VniA, Vm0.Value)], Drain(lab.Macs));
    }

    [Fact]
    public void A_learned_mac_becomes_the_destination_of_later_frames()
    {
        var lab = new ForwardingLab();
        lab.FromPort(0, Broadcast(Vm0));
        lab.Output.Clear();

        lab.FromPort(1, Frame(Vm0, Vm1));

        Assert.Equal(0, Assert.Single(lab.Output.Frames).Port);
        Assert.Empty(lab.Output.Datagrams);
    }

    [Fact]
    public void A_mac_that_moves_to_another_local_port_is_queued_again_and_followed()
    {
        var lab = new ForwardingLab();
        lab.FromPort(0, Broadcast(Vm0));
        lab.FromPort(1, Broadcast(Vm0));
        lab.FromPort(1, Broadcast(Vm0));
        lab.Output.Clear();

        lab.FromPort(2, Frame(Vm0, Vm1));

        // Queued when learned on port 0, again when it moved to port 1 (the publisher reads the port
        // from the entry then), and Vm1 when learned on port 2.
        Assert.Equal([new MacKey(VniA, Vm0.Value), new MacKey(VniA, Vm0.Value), new MacKey(VniA, Vm1.Value)], Drain(lab.Macs));
        Assert.True(lab.Macs.TryGet(VniA, Vm0.Value, out var moved));
        Assert.Equal(1, moved.Port);
        Assert.Equal(0, lab.Macs.CountOnPort(0));
        Assert.Equal(1, lab.Macs.CountOnPort(1));
        Assert.Equal(1, Assert.Single(lab.Output.Frames).Port);
    }

    [Fact]
    public void The_same_mac_in_two_vnis_is_two_entries()
    {
        var lab = new ForwardingLab();

        lab.FromPort(TrunkPort, Broadcast(Vm0, vid: VidA));
        lab.FromPort(TrunkPort, Broadcast(Vm0, vid: VidB));

        Assert.True(lab.Macs.TryGet(VniA, Vm0.Value, out _));
        Assert.True(lab.Macs.TryGet(VniB, Vm0.Value, out _));
        Assert.Equal(2, Drain(lab.Macs).Length);
    }

    [Theory]
    [InlineData("ff:ff:ff:ff:ff:ff")]
    [InlineData("01:00:5e:00:00:01")]
    [InlineData("03:00:00:00:00:01")]
    [InlineData("00:00:00:00:00:00")]
    public void A_frame_with_a_multicast_or_zero_source_is_dropped_and_not_learned(string source)
    {
        var lab = new ForwardingLab();
        lab.Seed(1, VniA, Vm1);

        lab.FromPort(0, Frame(Vm1, MacAddress.Parse(source)));

        Assert.Empty(lab.Output.Frames);
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(1, lab.Macs.Count);
        Assert.Empty(Drain(lab.Macs));
        Assert.Equal(1, lab.Counters.Ports[0].DropsOf(DataPlaneDrop.InvalidSourceMac));
        Assert.Equal(1, lab.SegmentCounters(VniA).DropsOf(DataPlaneDrop.InvalidSourceMac));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.InvalidSourceMac] = 1 }, lab.TotalDrops());
    }

    [Fact]
    public void New_macs_beyond_the_port_limit_are_dropped_while_known_macs_keep_forwarding()
    {
        var lab = new ForwardingLab(macLimit: 2);
        lab.Seed(1, VniA, Vm1);
        lab.FromPort(0, Frame(Vm1, Mac(1)));
        lab.FromPort(0, Frame(Vm1, Mac(2)));
        lab.Output.Clear();

        lab.FromPort(0, Frame(Vm1, Mac(3)));

        Assert.Empty(lab.Output.Frames);
        Assert.False(lab.Macs.TryGet(VniA, Mac(3).Value, out _));
        Assert.Equal(2, lab.Macs.CountOnPort(0));
        Assert.Equal(1, lab.Counters.Ports[0].DropsOf(DataPlaneDrop.MacLimitExceeded));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.MacLimitExceeded] = 1 }, lab.TotalDrops());

        lab.FromPort(0, Frame(Vm1, Mac(1)));
        lab.FromPort(0, Frame(Vm1, Mac(2)));

        Assert.Equal([1, 1], lab.Output.PortsReached);
        Assert.Equal(4, lab.Counters.Ports[1].Delivered);

        // The limit is per port: another port still learns.
        lab.FromPort(2, Frame(Vm1, Mac(3)));
        Assert.True(lab.Macs.TryGet(VniA, Mac(3).Value, out _));
    }

    [Fact]
    public void A_mac_moving_onto_a_port_at_its_limit_is_dropped_and_stays_where_it_was()
    {
        var lab = new ForwardingLab(macLimit: 1);
        lab.FromPort(0, Broadcast(Mac(1)));
        lab.FromPort(2, Broadcast(Mac(2)));

        lab.FromPort(0, Broadcast(Mac(2)));

        Assert.True(lab.Macs.TryGet(VniA, Mac(2).Value, out var entry));
        Assert.Equal(2, entry.Port);
        Assert.Equal(1, lab.Macs.CountOnPort(0));
        Assert.Equal(1, lab.Counters.Ports[0].DropsOf(DataPlaneDrop.MacLimitExceeded));
    }

    [Fact]
    public void Ageing_forgets_only_macs_not_seen_since_the_cut_off_and_frees_their_places()
    {
        var macs = new LocalMacTable(portCount: 2);
        Assert.True(macs.Learn(7, 0x0200_0000_0001, port: 0, macLimit: 2, now: 1_000));
        Assert.True(macs.Learn(7, 0x0200_0000_0002, port: 0, macLimit: 2, now: 1_000));
        Assert.True(macs.Learn(7, 0x0200_0000_0002, port: 0, macLimit: 2, now: 5_000));

        Assert.Equal(1, macs.Age(olderThan: 3_000));

        Assert.False(macs.TryGet(7, 0x0200_0000_0001, out _));
        Assert.True(macs.TryGet(7, 0x0200_0000_0002, out _));
        Assert.Equal(1, macs.CountOnPort(0));
        Assert.True(macs.Learn(7, 0x0200_0000_0003, port: 0, macLimit: 2, now: 6_000));
    }

    [Fact]
    public void A_forgotten_mac_frees_its_place_under_the_limit()
    {
        var lab = new ForwardingLab(macLimit: 1);
        lab.FromPort(0, Broadcast(Mac(1)));
        lab.FromPort(0, Broadcast(Mac(2)));
        Assert.Equal(1, lab.Total.DropsOf(DataPlaneDrop.MacLimitExceeded));

        Assert.True(lab.Macs.Forget(VniA, Mac(1).Value));
        lab.FromPort(0, Broadcast(Mac(2)));

        Assert.True(lab.Macs.TryGet(VniA, Mac(2).Value, out _));
        Assert.Equal(1, lab.Total.DropsOf(DataPlaneDrop.MacLimitExceeded));
    }

    [Fact]
    public void A_frame_to_a_mac_learned_on_its_own_ingress_port_is_dropped_as_hairpin()
    {
        var lab = new ForwardingLab();
        lab.Seed(0, VniA, Vm1);

        lab.FromPort(0, Frame(Vm1, Vm0));

        Assert.Empty(lab.Output.Frames);
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(1, lab.Counters.Ports[0].DropsOf(DataPlaneDrop.Hairpin));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.Hairpin] = 1 }, lab.TotalDrops());
    }
}
