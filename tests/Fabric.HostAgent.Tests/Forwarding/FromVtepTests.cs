using System.Buffers.Binary;
using System.Collections.Frozen;
using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;

namespace Fabric.HostAgent.Tests.Forwarding;

[Trait("Category", "Unit")]
public sealed class FromVtepTests
{
    private static readonly MacAddress Vm1 = Mac(0x101);
    private static readonly MacAddress Guest = Mac(0x444);

    [Fact]
    public void A_datagram_for_a_vni_with_no_local_port_is_dropped_as_unknown_vni()
    {
        var lab = new ForwardingLab();

        lab.FromVtep(Peer2, Datagram(7777, Broadcast(RemoteA)));

        Assert.Empty(lab.Output.Frames);
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(1, lab.Counters.Vtep.DropsOf(DataPlaneDrop.UnknownVni));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.UnknownVni] = 1 }, lab.TotalDrops());
    }

    [Theory]
    [InlineData("10.0.0.99")]
    [InlineData("10.0.0.4")] // a VTEP, but of VNI B only
    public void A_datagram_from_an_address_that_is_not_a_vtep_of_the_segment_is_dropped(string source)
    {
        var lab = new ForwardingLab();
        lab.Seed(1, VniA, Vm1);

        lab.FromVtep(Ipv4Address.Parse(source), Datagram(VniA, Frame(Vm1, RemoteA)));

        Assert.Empty(lab.Output.Frames);
        Assert.Equal(1, lab.Counters.Vtep.DropsOf(DataPlaneDrop.NotAVtepOfSegment));
        Assert.Equal(1, lab.SegmentCounters(VniA).DropsOf(DataPlaneDrop.NotAVtepOfSegment));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.NotAVtepOfSegment] = 1 }, lab.TotalDrops());
    }

    [Fact]
    public void A_datagram_from_our_own_vtep_address_is_dropped_even_when_the_tables_list_it_as_a_vtep()
    {
        var lab = new ForwardingLab();
        lab.Seed(1, VniA, Vm1);
        var tables = lab.Snapshot;
        var a = tables.Segments[VniA];
        lab.DataPlane.Publish(new ForwardingSnapshot
        {
            Ports = tables.Ports,
            Generation = tables.Generation,
            Segments = tables.Segments.ToDictionary(kv => kv.Key, kv => kv.Key != VniA ? kv.Value : new SegmentForwarding
            {
                Vni = VniA,
                LocalPorts = a.LocalPorts,
                FloodList = [.. a.FloodList, lab.Vtep(Self)],
                Vteps = a.Vteps.Append(Self).ToFrozenSet(),
                RemoteMacs = a.RemoteMacs,
                Counters = a.Counters,
            }).ToFrozenDictionary(),
        });

        lab.FromVtep(Self, Datagram(VniA, Broadcast(RemoteA)));
        lab.FromVtep(Self, Datagram(VniA, Frame(Vm1, RemoteA)));

        Assert.Empty(lab.Output.Frames);
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.FromOwnVtep] = 2 }, lab.TotalDrops());
    }

    [Fact]
    public void A_vtep_known_only_as_the_location_of_a_remote_mac_is_accepted()
    {
        var lab = new ForwardingLab();
        lab.Seed(3, VniB, Vm1);

        lab.FromVtep(PeerB, Datagram(VniB, Frame(Vm1, RemoteB)));

        Assert.Equal(3, Assert.Single(lab.Output.Frames).Port);
    }

    [Theory]
    [InlineData(EtherType.Vlan)]
    [InlineData(EtherType.ServiceVlan)]
    [InlineData(EtherType.LegacyQinQ)]
    public void An_inner_frame_with_a_vlan_tag_is_dropped_as_inner_vlan_tagged(ushort tpid)
    {
        // RFC 7348 §6.1: "Decapsulated VXLAN frames with the inner VLAN tag SHOULD be discarded".
        var lab = new ForwardingLab();
        lab.Seed(TrunkPort, VniA, Vm1);
        byte[] inner = Frame(Vm1, RemoteA, vid: VidB);
        BinaryPrimitives.WriteUInt16BigEndian(inner.AsSpan(12), tpid);

        lab.FromVtep(Peer2, Datagram(VniA, inner));

        Assert.Empty(lab.Output.Frames);
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(1, lab.Counters.Vtep.DropsOf(DataPlaneDrop.InnerVlanTagged));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.InnerVlanTagged] = 1 }, lab.TotalDrops());
    }

    [Fact]
    public void A_datagram_to_a_known_local_mac_is_delivered_to_that_port_only()
    {
        var lab = new ForwardingLab();
        lab.Seed(1, VniA, Vm1);
        byte[] inner = Frame(Vm1, RemoteA);

        lab.FromVtep(Peer2, Datagram(VniA, inner));

        var sent = Assert.Single(lab.Output.Frames);
        Assert.Equal(1, sent.Port);
        Assert.Equal(inner, sent.Frame);
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(1, lab.Counters.Vtep.Received);
        Assert.Equal(1, lab.Total.Received);
        Assert.Equal(1, lab.Total.Delivered);
        Assert.Equal(1, lab.SegmentCounters(VniA).Received);
        Assert.Equal(0, lab.Total.TotalDrops);
    }

    [Fact]
    public void A_datagram_to_a_mac_on_a_trunk_is_delivered_tagged_with_the_vnis_vid()
    {
        var lab = new ForwardingLab();
        lab.Seed(TrunkPort, VniB, Guest);
        byte[] inner = Frame(Guest, RemoteB);

        lab.FromVtep(PeerB, Datagram(VniB, inner));

        var sent = Assert.Single(lab.Output.Frames);
        Assert.Equal(TrunkPort, sent.Port);
        Assert.Equal(VidB, sent.Vid);
        Assert.Equal(inner, sent.Untagged());
    }

    [Theory]
    [InlineData("ff:ff:ff:ff:ff:ff")]
    [InlineData("02:00:00:00:99:99")]
    public void A_flooded_datagram_reaches_the_local_ports_of_its_vni_and_is_never_sent_back_to_a_vtep(string destination)
    {
        var lab = new ForwardingLab();
        byte[] inner = Frame(MacAddress.Parse(destination), RemoteA);

        lab.FromVtep(Peer3, Datagram(VniA, inner));

        Assert.Equal(PortsOfA, lab.Output.PortsReached.Order());
        Assert.All(lab.Output.Frames, f => Assert.Equal(VniA, lab.VniOfDelivery(f)));
        Assert.All(lab.Output.Frames, f => Assert.Equal(inner, f.Untagged()));

        // Split horizon: the sender already replicated to every VTEP.
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(0, lab.Total.Encapsulated);
        Assert.Equal(1, lab.Total.Flooded);
        Assert.Equal(PortsOfA.Length, lab.Total.Delivered);
    }

    [Fact]
    public void Every_truncation_of_a_valid_datagram_is_counted_and_never_throws()
    {
        var lab = new ForwardingLab();
        lab.Seed(1, VniA, Vm1);
        byte[] datagram = Datagram(VniA, Frame(Vm1, RemoteA));
        int shortest = VxlanHeader.Length + EthernetFrame.HeaderLength;

        for (int length = 0; length < datagram.Length; length++)
        {
            lab.FromVtep(Peer2, datagram.AsSpan(0, length));
        }

        // A VXLAN header and a whole Ethernet header is as short as a datagram can be; longer
        // truncations still carry a frame (the L2 header has no length) and are delivered.
        Assert.Equal(datagram.Length, lab.Total.Received);
        Assert.Equal(shortest, lab.Total.DropsOf(DataPlaneDrop.Malformed));
        Assert.Equal(VxlanHeader.Length, lab.Counters.Vtep.MalformedOf(DropReason.Truncated));
        Assert.Equal(EthernetFrame.HeaderLength, lab.Counters.Vtep.MalformedOf(DropReason.InnerFrameTooShort));
        Assert.Equal(datagram.Length - shortest, lab.Total.Delivered);
        Assert.Equal(lab.Total.Received, lab.Total.Delivered + lab.Total.TotalDrops);
        Assert.All(lab.Output.Frames, f => Assert.Equal(1, f.Port));
    }

    [Theory]
    [InlineData(0x00, nameof(DropReason.BadVxlanFlags))]
    [InlineData(0x80, nameof(DropReason.BadVxlanFlags))]
    [InlineData(0xF7, nameof(DropReason.BadVxlanFlags))]
    public void A_datagram_without_the_i_flag_is_malformed(byte flags, string reasonName)
    {
        var reason = Enum.Parse<DropReason>(reasonName);
        var lab = new ForwardingLab();
        lab.Seed(1, VniA, Vm1);
        byte[] datagram = Datagram(VniA, Frame(Vm1, RemoteA));
        datagram[0] = flags;

        lab.FromVtep(Peer2, datagram);

        Assert.Empty(lab.Output.Frames);
        Assert.Equal(1, lab.Counters.Vtep.MalformedOf(reason));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.Malformed] = 1 }, lab.TotalDrops());
    }

    [Fact]
    public void A_datagram_for_vni_zero_is_malformed()
    {
        var lab = new ForwardingLab();
        byte[] datagram = Datagram(VniA, Broadcast(RemoteA));
        datagram.AsSpan(4, 3).Clear();

        lab.FromVtep(Peer2, datagram);

        Assert.Empty(lab.Output.Frames);
        Assert.Equal(1, lab.Counters.Vtep.MalformedOf(DropReason.BadVni));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.Malformed] = 1 }, lab.TotalDrops());
    }

    [Fact]
    public void Reserved_bits_are_ignored_on_receipt()
    {
        // RFC 7348 §5: reserved fields "MUST be set to zero on transmission and ignored on receipt".
        var lab = new ForwardingLab();
        lab.Seed(1, VniA, Vm1);
        byte[] datagram = Datagram(VniA, Frame(Vm1, RemoteA));
        datagram[0] = 0xFF;
        datagram[1] = datagram[2] = datagram[3] = datagram[7] = 0xFF;

        lab.FromVtep(Peer2, datagram);

        Assert.Equal(1, Assert.Single(lab.Output.Frames).Port);
    }

    [Fact]
    public void Random_bytes_from_a_vtep_never_throw_and_never_go_back_out_to_a_vtep()
    {
        var lab = new ForwardingLab();
        var random = new Random(7348);
        var buffer = new byte[200];
        for (int i = 0; i < 5000; i++)
        {
            int length = random.Next(buffer.Length);
            random.NextBytes(buffer.AsSpan(0, length));
            if (length >= 8 && random.Next(2) == 0)
            {
                // Often a plausible header, so the deeper checks run too.
                buffer[0] = VxlanHeader.IFlag;
                BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(4), (random.Next(3) switch { 0 => VniA, 1 => VniB, _ => VniNative }) << 8);
            }

            lab.FromVtep(random.Next(2) == 0 ? Peer3 : PeerB, buffer.AsSpan(0, length));
        }

        // No MAC is known locally, so each datagram is either dropped once or flooded once.
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(5000, lab.Total.Received);
        Assert.Equal(lab.Total.Received, lab.Total.Flooded + lab.Total.TotalDrops);
    }
}
