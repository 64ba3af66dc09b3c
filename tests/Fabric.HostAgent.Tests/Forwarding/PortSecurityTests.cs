using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>
/// Port security as a vSphere Distributed Switch enforces it: forged transmits (a source MAC other
/// than the port's effective MAC) and promiscuous mode, each rejected by default.
/// </summary>
[Trait("Category", "Unit")]
public sealed class PortSecurityTests
{
    private static readonly MacAddress Vm0 = Mac(0x100);
    private static readonly MacAddress Vm1 = Mac(0x101);
    private static readonly MacAddress Forged = Mac(0xBAD);

    [Fact]
    public void With_forged_transmits_rejected_an_access_port_forwards_only_its_first_learned_mac()
    {
        var lab = new ForwardingLab(allowForgedTransmits: false);
        lab.Seed(1, VniA, Vm1);

        lab.FromPort(0, Frame(Vm1, Vm0));
        lab.FromPort(0, Frame(Vm1, Forged));
        lab.FromPort(0, Broadcast(Forged));
        lab.FromPort(0, Frame(Vm1, Vm0));

        Assert.Equal(2, lab.Output.Frames.Count);
        Assert.All(lab.Output.Frames, f => Assert.Equal(Vm0, MacAddress.Read(f.Frame.AsSpan(6))));
        Assert.Empty(lab.Output.Datagrams);
        Assert.False(lab.Macs.TryGet(VniA, Forged.Value, out _));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.ForgedTransmit] = 2 }, lab.TotalDrops());
        Assert.Equal(2, lab.Counters.Ports[0].DropsOf(DataPlaneDrop.ForgedTransmit));
        Assert.Equal(2, lab.SegmentCounters(VniA).DropsOf(DataPlaneDrop.ForgedTransmit));
    }

    [Fact]
    public void A_configured_mac_is_the_only_one_a_port_may_send_from_even_first()
    {
        var lab = new ForwardingLab(allowForgedTransmits: false);
        lab.ConfiguredMacs[0] = Vm0;
        lab.Republish();

        lab.FromPort(0, Broadcast(Forged));
        lab.FromPort(0, Broadcast(Vm0));

        Assert.Equal(1, lab.Total.DropsOf(DataPlaneDrop.ForgedTransmit));
        Assert.Equal(1, lab.Total.Flooded);
        Assert.False(lab.Macs.TryGet(VniA, Forged.Value, out _));
    }

    [Fact]
    public void The_effective_mac_of_an_unconfigured_port_is_released_when_it_ages_out()
    {
        var lab = new ForwardingLab(allowForgedTransmits: false);
        lab.FromPort(0, Broadcast(Vm0));
        Assert.Equal(Vm0.Value, lab.Macs.FirstLearned(0));

        // The VM is gone (its MAC aged out); a new VM with another MAC is attached to the interface.
        Assert.Equal(1, lab.Macs.Age(long.MaxValue));
        lab.FromPort(0, Broadcast(Vm1));
        lab.FromPort(0, Broadcast(Vm0));

        Assert.Equal(Vm1.Value, lab.Macs.FirstLearned(0));
        Assert.Equal(1, lab.Total.DropsOf(DataPlaneDrop.ForgedTransmit));
    }

    [Fact]
    public void With_forged_transmits_allowed_a_port_sends_from_any_mac_up_to_its_limit()
    {
        var lab = new ForwardingLab(macLimit: 3, allowForgedTransmits: true);

        for (int i = 1; i <= 4; i++)
        {
            lab.FromPort(0, Broadcast(Mac(i)));
        }

        Assert.Equal(0, lab.Total.DropsOf(DataPlaneDrop.ForgedTransmit));
        Assert.Equal(1, lab.Total.DropsOf(DataPlaneDrop.MacLimitExceeded));
        Assert.Equal(3, lab.Macs.CountOnPort(0));
    }

    [Fact]
    public void A_trunk_without_a_configured_mac_carries_several_guests_and_is_not_checked()
    {
        var lab = new ForwardingLab(allowForgedTransmits: false);

        lab.FromPort(TrunkPort, Broadcast(Vm0, vid: VidA));
        lab.FromPort(TrunkPort, Broadcast(Vm1, vid: VidB));

        Assert.Equal(0, lab.Total.DropsOf(DataPlaneDrop.ForgedTransmit));
        Assert.True(lab.Macs.TryGet(VniA, Vm0.Value, out _));
        Assert.True(lab.Macs.TryGet(VniB, Vm1.Value, out _));
    }

    [Fact]
    public void A_promiscuous_port_gets_a_copy_of_unicast_between_other_ports_and_to_and_from_remote_vteps()
    {
        var lab = new ForwardingLab(promiscuous: [2]);
        lab.Seed(1, VniA, Vm1);
        lab.Seed(2, VniA, Mac(0x102));

        lab.FromPort(0, Frame(Vm1, Vm0));                              // local unicast 0 → 1
        lab.FromPort(0, Frame(RemoteA, Vm0));                          // to a remote MAC
        lab.FromVtep(Peer2, Datagram(VniA, Frame(Vm1, RemoteA)));      // from a remote VTEP to port 1
        lab.FromPort(2, Frame(Vm1, Mac(0x102)));                       // from the promiscuous port itself: no copy back

        Assert.Equal([1, 2, 2, 1, 2, 1], lab.Output.Frames.Select(f => f.Port));
        Assert.Single(lab.Output.Datagrams);
        Assert.Empty(lab.TotalDrops());
    }

    [Fact]
    public void Without_promiscuous_mode_no_port_sees_unicast_meant_for_another()
    {
        var lab = new ForwardingLab();
        lab.Seed(1, VniA, Vm1);

        lab.FromPort(0, Frame(Vm1, Vm0));
        lab.FromVtep(Peer2, Datagram(VniA, Frame(Vm1, RemoteA)));

        Assert.Equal([1, 1], lab.Output.Frames.Select(f => f.Port));
    }

    [Fact]
    public void A_promiscuous_port_of_another_vni_gets_nothing()
    {
        var lab = new ForwardingLab(promiscuous: [3]); // port 3 is on VNI B
        lab.Seed(1, VniA, Vm1);

        lab.FromPort(0, Frame(Vm1, Vm0));

        Assert.Equal([1], lab.Output.Frames.Select(f => f.Port));
    }
}
