using System.Buffers.Binary;
using System.Net;
using Fabric.Addressing;
using Fabric.Grains;
using Fabric.HostAgent.Control;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;
using static Fabric.HostAgent.Tests.Wire.TestFrames;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>
/// ARP suppression (docs/architecture.md, "Data plane"): a broadcast ARP request for an address the segment has a
/// binding for is answered on the asking port and not flooded; the agent snoops bindings from its
/// own VMs' ARP packets.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ArpSuppressionTests
{
    private static readonly MacAddress Vm0 = Mac(0x100);
    private static readonly uint Vm0Ip = Ipv4Address.Parse("192.168.10.10");
    private static readonly uint RemoteIp = Ipv4Address.Parse("192.168.10.20");

    [Fact]
    public void A_request_for_a_bound_address_is_answered_on_the_asking_port_and_goes_nowhere_else()
    {
        var lab = new ForwardingLab();
        lab.BindArp(VniA, RemoteIp, RemoteA);

        lab.FromPort(0, ArpRequest(Vm0, Vm0Ip, RemoteIp));

        var sent = Assert.Single(lab.Output.Frames);
        Assert.Equal(0, sent.Port);
        Assert.False(sent.IsTagged);
        AssertReply(sent.Frame, asker: Vm0, askerIp: Vm0Ip, owner: RemoteA, ownerIp: RemoteIp);
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(1, lab.Total.ArpSuppressed);
        Assert.Equal(1, lab.SegmentCounters(VniA).ArpSuppressed);
        Assert.Equal(0, lab.Total.Flooded);
        Assert.Equal(0, lab.Total.TotalDrops);
    }

    [Fact]
    public void On_a_trunk_the_reply_carries_the_vlan_tag_of_the_asking_segment()
    {
        var lab = new ForwardingLab();
        lab.BindArp(VniA, RemoteIp, RemoteA);
        byte[] tagged = VlanTagged(ArpRequest(Vm0, Vm0Ip, RemoteIp), VidA);

        lab.FromPort(TrunkPort, tagged);

        var sent = Assert.Single(lab.Output.Frames);
        Assert.Equal(TrunkPort, sent.Port);
        Assert.Equal(VidA, sent.Vid);
        AssertReply(sent.Untagged(), asker: Vm0, askerIp: Vm0Ip, owner: RemoteA, ownerIp: RemoteIp);
        Assert.Empty(lab.Output.Datagrams);
    }

    public static TheoryData<string, uint, uint> Flooded => new()
    {
        { "no binding for the target", Vm0Ip, Ipv4Address.Parse("192.168.10.99") },
        { "probe (sender 0.0.0.0, RFC 5227)", 0, RemoteIp },
        { "gratuitous (target = sender)", RemoteIp, RemoteIp },
    };

    [Theory]
    [MemberData(nameof(Flooded))]
    public void Requests_it_must_not_answer_are_flooded_as_before(string why, uint senderIp, uint targetIp)
    {
        var lab = new ForwardingLab();
        lab.BindArp(VniA, RemoteIp, RemoteA);

        lab.FromPort(0, ArpRequest(Vm0, senderIp, targetIp));

        Assert.True(lab.Total.ArpSuppressed == 0, why);
        Assert.Equal(1, lab.Total.Flooded);
        Assert.Equal([Peer2, Peer3], lab.Output.Datagrams.Select(d => d.OuterDestination).Order());
        Assert.Equal([1, 2, TrunkPort, TrunkWithoutNative], lab.Output.PortsReached.Order());
    }

    [Fact]
    public void A_binding_of_another_segment_is_never_used()
    {
        var lab = new ForwardingLab();
        lab.BindArp(VniB, RemoteIp, RemoteB);

        lab.FromPort(0, ArpRequest(Vm0, Vm0Ip, RemoteIp));

        Assert.Equal(0, lab.Total.ArpSuppressed);
        Assert.Equal(1, lab.Total.Flooded);
        Assert.DoesNotContain(lab.Output.Frames, f => f.Port == 0);
    }

    [Fact]
    public void A_request_for_an_address_bound_to_the_asker_itself_is_flooded()
    {
        var lab = new ForwardingLab();
        lab.BindArp(VniA, RemoteIp, Vm0);

        lab.FromPort(0, ArpRequest(Vm0, Vm0Ip, RemoteIp));

        Assert.Equal(0, lab.Total.ArpSuppressed);
        Assert.Equal(1, lab.Total.Flooded);
    }

    [Fact]
    public void The_sender_binding_is_snooped_only_when_the_arp_sender_is_the_frame_source()
    {
        var lab = new ForwardingLab();

        lab.FromPort(0, ArpRequest(Vm0, Vm0Ip, RemoteIp));
        Assert.True(lab.Macs.TryGet(VniA, Vm0.Value, out var entry));
        Assert.Equal([Vm0Ip], entry.Claims);

        // A frame from Mac(0x101) whose ARP payload claims to be Vm0 at another address: learned as a
        // MAC, but it binds nothing, neither for itself nor for Vm0.
        byte[] spoofed = ArpRequest(Vm0, Ipv4Address.Parse("192.168.10.66"), RemoteIp);
        Mac(0x101).Write(spoofed.AsSpan(EthernetFrame.MacLength));
        lab.FromPort(1, spoofed);
        Assert.True(lab.Macs.TryGet(VniA, Mac(0x101).Value, out var other));
        Assert.Empty(other.Claims);
        Assert.Equal([Vm0Ip], entry.Claims);

        // A probe (sender 0.0.0.0) binds nothing either; a later claim of another address adds it
        // (a MAC may own several: primary, secondaries, VIPs).
        lab.FromPort(2, ArpRequest(Mac(0x102), 0, RemoteIp));
        Assert.True(lab.Macs.TryGet(VniA, Mac(0x102).Value, out var prober));
        Assert.Empty(prober.Claims);
        lab.FromPort(0, ArpRequest(Vm0, Ipv4Address.Parse("192.168.10.11"), RemoteIp));
        Assert.Equal([Vm0Ip, Ipv4Address.Parse("192.168.10.11")], entry.Claims.Order());
    }

    [Fact]
    public void A_claim_is_queued_for_publishing_once_and_again_after_the_fabric_bound_the_address_elsewhere()
    {
        var lab = new ForwardingLab();
        lab.FromPort(0, ArpRequest(Vm0, Vm0Ip, RemoteIp));
        Assert.Equal([new MacKey(VniA, Vm0.Value), new MacKey(VniA, Vm0.Value)], DrainLearned(lab)); // learned, then claimed

        for (int i = 0; i < 3; i++)
        {
            lab.FromPort(0, ArpRequest(Vm0, Vm0Ip, RemoteIp));
        }

        Assert.Empty(DrainLearned(lab));

        // The MAC table moved the address to another MAC (a newer claim elsewhere): the next claim
        // from Vm0 is news again and goes to the table, where the newest claim wins.
        lab.Macs.Release(VniA, Vm0.Value, Vm0Ip);
        Assert.Empty(lab.Macs.TryGet(VniA, Vm0.Value, out var entry) ? entry.Claims : [0u]);
        lab.FromPort(0, ArpRequest(Vm0, Vm0Ip, RemoteIp));
        Assert.Equal([new MacKey(VniA, Vm0.Value)], DrainLearned(lab));
    }

    [Theory]
    [InlineData("255.255.255.255")]
    [InlineData("224.0.0.251")]
    [InlineData("239.255.255.250")]
    public void An_address_that_can_never_be_bound_is_not_claimed(string address)
    {
        var lab = new ForwardingLab();

        lab.FromPort(0, ArpRequest(Vm0, Ipv4Address.Parse(address), RemoteIp));

        Assert.True(lab.Macs.TryGet(VniA, Vm0.Value, out var entry));
        Assert.Empty(entry.Claims);
        Assert.Equal([new MacKey(VniA, Vm0.Value)], DrainLearned(lab)); // the MAC itself, once
    }

    [Fact]
    public void A_mac_claiming_more_addresses_than_it_remembers_still_publishes_each_new_claim()
    {
        var lab = new ForwardingLab();
        lab.FromPort(0, Broadcast(Vm0));
        DrainLearned(lab);

        for (uint i = 1; i <= LocalMac.MaxClaims + 3; i++)
        {
            lab.FromPort(0, ArpRequest(Vm0, Vm0Ip + i, RemoteIp));
            Assert.Equal([new MacKey(VniA, Vm0.Value)], DrainLearned(lab));
        }

        Assert.True(lab.Macs.TryGet(VniA, Vm0.Value, out var entry));
        Assert.Equal(LocalMac.MaxClaims, entry.Claims.Count());
        Assert.Contains(Vm0Ip + LocalMac.MaxClaims + 3, entry.Claims);
    }

    private static List<MacKey> DrainLearned(ForwardingLab lab)
    {
        var keys = new List<MacKey>();
        while (lab.Macs.TryTakeLearned(out var key))
        {
            keys.Add(key);
        }

        return keys;
    }

    [Fact]
    public void The_builder_keeps_bindings_only_for_macs_the_table_still_has()
    {
        var ports = new[] { new PortForwarding { Index = 0, Name = "p0", Trunk = false, AccessVni = 100 } };
        var segments = new Dictionary<uint, SegmentSnapshot> { [100] = new(new Vni(100), Guid.NewGuid(), 1, []) };
        var present = Mac(2);
        var gone = Mac(3);
        var macs = new Dictionary<uint, IReadOnlyDictionary<MacAddress, MacEntry>>
        {
            [100] = new Dictionary<MacAddress, MacEntry> { [present] = new(present, "host-2", IPAddress.Parse("10.0.0.2"), "eth0", 1, DateTimeOffset.UnixEpoch, false, false) },
        };
        var bindings = new Dictionary<uint, IReadOnlyDictionary<IPAddress, MacAddress>>
        {
            [100] = new Dictionary<IPAddress, MacAddress> { [IPAddress.Parse("192.168.1.2")] = present, [IPAddress.Parse("192.168.1.3")] = gone },
        };

        var snapshot = ForwardingBuilder.Build(ports, 1, "host-1", Ipv4Address.Parse("10.0.0.1"), VxlanHeader.DefaultPort, segments, macs, new DataPlaneCounters(1), [], bindings);

        Assert.Equal(
            new Dictionary<uint, ulong> { [Ipv4Address.Parse("192.168.1.2")] = present.Value },
            snapshot.Segments[100].ArpBindings.ToDictionary());
    }

    private static void AssertReply(byte[] frame, MacAddress asker, uint askerIp, MacAddress owner, uint ownerIp)
    {
        Assert.Equal(60, frame.Length);
        Assert.Equal(asker, MacAddress.Read(frame));
        Assert.Equal(owner, MacAddress.Read(frame.AsSpan(EthernetFrame.MacLength)));
        Assert.Equal(EtherType.Arp, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)));
        Assert.True(ArpPacket.TryRead(frame.AsSpan(EthernetFrame.HeaderLength), out var reply, out _));
        Assert.Equal(new ArpPacket(ArpOperation.Reply, owner, ownerIp, asker, askerIp), reply);
        Assert.All(frame.AsSpan(EthernetFrame.HeaderLength + ArpPacket.Length).ToArray(), b => Assert.Equal(0, b));
    }

    private static byte[] VlanTagged(byte[] untagged, ushort vid)
    {
        var frame = new byte[untagged.Length + 4];
        untagged.AsSpan(0, 12).CopyTo(frame);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), EtherType.Vlan);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), vid);
        untagged.AsSpan(12).CopyTo(frame.AsSpan(16));
        return frame;
    }
}
