using System.Net;
using Fabric.Addressing;
using Fabric.Grains;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Control;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Ports;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Tests.Forwarding;

[Trait("Category", "Unit")]
public sealed class ForwardingBuilderTests
{
    private const string Self = "host-1";

    private static readonly PortGroup Web = Group("web", 100, VlanPolicy.AccessOn(new VlanId(10)), macLimit: 8);
    private static readonly PortGroup Db = Group("db", 200, VlanPolicy.AccessOn(new VlanId(25)));
    private static readonly PortGroup Outside = Group("outside", 300, VlanPolicy.AccessOn(new VlanId(40)));
    private static readonly PortGroup Plain = Group("plain", 400, VlanPolicy.Untagged);

    private static PortGroup Group(string name, uint vni, VlanPolicy vlan, int macLimit = 64)
        => new(name, new Vni(vni), vlan, new SecurityPolicy(macLimit, false, false));

    private static PortGroup Trunk(VlanId? native = null)
        => Group("trunk", 900, VlanPolicy.Trunk([new VlanRange(new VlanId(10), new VlanId(20)), new VlanRange(new VlanId(25), new VlanId(30))], native), macLimit: 16);

    private static SwitchConfig Config(params PortGroup[] groups) => new("sw1", 1500, 7, groups, []);

    private static PortBindingOptions Bind(string portGroup, string? name = null) => new() { Interface = name ?? $"veth-{portGroup}", PortGroup = portGroup };

    private static FloodListEntry Flood(string host, string vtep) => new(host, IPAddress.Parse(vtep));

    private static MacEntry Entry(MacAddress mac, string host, string vtep)
        => new(mac, host, IPAddress.Parse(vtep), "eth0", 1, DateTimeOffset.UnixEpoch, false, false);

    private static uint Address(string text) => Ipv4Address.Parse(text);

    [Fact]
    public void An_access_port_group_maps_untagged_frames_to_its_vni_with_its_mac_limit()
    {
        var port = ForwardingBuilder.BuildPort(3, Bind("web", "tap3"), Config(Web, Db));

        Assert.Equal(3, port.Index);
        Assert.Equal("tap3", port.Name);
        Assert.False(port.Trunk);
        Assert.Equal(100u, port.AccessVni);
        Assert.Equal(8, port.MacLimit);
        Assert.Empty(port.VniByVid);
        Assert.Equal([100u], ForwardingBuilder.VnisOf(port));
    }

    [Fact]
    public void A_ports_trunk_override_makes_it_a_trunk_of_the_port_groups_with_those_access_vlans()
    {
        var binding = Bind("plain", "tap7");
        binding.Vlan = new PortVlanOptions { Mode = "trunk", TrunkRanges = "10, 20-30", NativeVlan = 25 };
        var port = ForwardingBuilder.BuildPort(7, binding, Config(Web, Db, Outside, Plain));

        Assert.True(port.Trunk);
        Assert.Equal(new Dictionary<ushort, uint> { [10] = 100 }, port.VniByVid.ToDictionary());
        Assert.Equal(200u, port.NativeVni); // VLAN 25, db's, is the native one: untagged
        Assert.Equal([200u, 100u], ForwardingBuilder.VnisOf(port));
    }

    [Fact]
    public void A_ports_access_override_on_a_trunk_port_group_carries_only_the_port_groups_own_vni_untagged()
    {
        var binding = Bind("trunk", "tap8");
        binding.Vlan = new PortVlanOptions { Mode = "access" };
        var port = ForwardingBuilder.BuildPort(8, binding, Config(Web, Db, Trunk()));

        Assert.False(port.Trunk);
        Assert.Equal(900u, port.AccessVni);
        Assert.Equal(16, port.MacLimit); // the port group's security still holds
    }

    [Theory]
    [InlineData("access", null, null, null)]
    [InlineData("trunk", "100-199,300", 300, null)]
    [InlineData("bridge", null, null, "vlan.mode")]
    [InlineData("access", "10", null, "vlan:")]
    [InlineData("trunk", null, null, "vlan.trunkRanges is required")]
    [InlineData("trunk", "0-10", null, "vlan.trunkRanges '0-10'")]
    [InlineData("trunk", "10-4095", null, "vlan.trunkRanges")]
    [InlineData("trunk", "10-20,15-30", null, "vlan.trunkRanges '15-30' overlaps")]
    [InlineData("trunk", "10-20", 21, "vlan.nativeVlan 21")]
    public void A_vlan_override_is_checked_against_ieee_802_1q_naming_the_field(string mode, string? ranges, int? native, string? error)
    {
        bool valid = new PortVlanOptions { Mode = mode, TrunkRanges = ranges, NativeVlan = native }.TryGetPolicy(out _, out string? message);
        Assert.Equal(error is null, valid);
        if (error is not null)
        {
            Assert.StartsWith(error, message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void An_untagged_access_port_group_maps_to_its_vni()
    {
        var port = ForwardingBuilder.BuildPort(0, Bind("plain"), Config(Plain));

        Assert.False(port.Trunk);
        Assert.Equal(400u, port.AccessVni);
    }

    [Fact]
    public void A_port_bound_to_an_unknown_port_group_or_without_a_config_carries_no_vni()
    {
        var unknown = ForwardingBuilder.BuildPort(0, Bind("nope"), Config(Web));
        var noConfig = ForwardingBuilder.BuildPort(1, Bind("web"), null);

        foreach (var port in new[] { unknown, noConfig })
        {
            Assert.False(port.Trunk);
            Assert.Equal(0u, port.AccessVni);
            Assert.Empty(ForwardingBuilder.VnisOf(port));
        }
    }

    [Fact]
    public void A_trunk_carries_every_port_group_whose_access_vlan_is_in_its_ranges_and_its_own_vni_untagged()
    {
        var port = ForwardingBuilder.BuildPort(2, Bind("trunk"), Config(Web, Db, Outside, Plain, Trunk()));

        Assert.True(port.Trunk);
        Assert.Equal(16, port.MacLimit);
        Assert.Equal(new Dictionary<ushort, uint> { [10] = 100, [25] = 200 }, port.VniByVid.OrderBy(kv => kv.Key).ToDictionary());
        Assert.Equal(new Dictionary<uint, ushort> { [100] = 10, [200] = 25 }, port.VidByVni.OrderBy(kv => kv.Key).ToDictionary());
        Assert.Equal(900u, port.NativeVni);
        Assert.Equal([100u, 200u, 900u], ForwardingBuilder.VnisOf(port).Order());
    }

    [Fact]
    public void A_trunk_with_a_native_vlan_takes_untagged_frames_into_that_vlans_port_group_and_never_tags_it()
    {
        var port = ForwardingBuilder.BuildPort(0, Bind("trunk"), Config(Web, Db, Trunk(native: new VlanId(10))));

        Assert.Equal(100u, port.NativeVni);
        Assert.Equal(new Dictionary<ushort, uint> { [25] = 200 }, port.VniByVid.ToDictionary());
        Assert.Equal(new Dictionary<uint, ushort> { [200] = 25 }, port.VidByVni.ToDictionary());
        Assert.Equal([100u, 200u], ForwardingBuilder.VnisOf(port).Order());
    }

    [Fact]
    public void A_trunk_whose_native_vlan_no_port_group_uses_has_no_native_vni()
    {
        var port = ForwardingBuilder.BuildPort(0, Bind("trunk"), Config(Web, Db, Trunk(native: new VlanId(15))));

        Assert.Equal(0u, port.NativeVni);
        Assert.Equal([(ushort)10, (ushort)25], port.VniByVid.Keys.Order());
        Assert.Equal([100u, 200u], ForwardingBuilder.VnisOf(port).Order());
    }

    private static (ForwardingSnapshot Snapshot, DataPlaneCounters Counters) BuildHost()
    {
        var config = Config(Web, Db, Outside, Trunk());
        PortForwarding[] ports =
        [
            ForwardingBuilder.BuildPort(0, Bind("web"), config),
            ForwardingBuilder.BuildPort(1, Bind("trunk"), config),
            ForwardingBuilder.BuildPort(2, Bind("db"), config),
        ];
        var segments = new Dictionary<uint, SegmentSnapshot>
        {
            [100] = new(new Vni(100), Guid.NewGuid(), 3, [Flood(Self, "10.0.0.1"), Flood("host-2", "10.0.0.2"), Flood("host-3", "10.0.0.3"), Flood("host-3b", "10.0.0.3")]),
            [200] = new(new Vni(200), Guid.NewGuid(), 1, [Flood(Self, "10.0.0.1"), Flood("host-2", "10.0.0.2")]),
            [300] = new(new Vni(300), Guid.NewGuid(), 1, [Flood("host-2", "10.0.0.2")]),
        };
        var macs = new Dictionary<uint, IReadOnlyDictionary<MacAddress, MacEntry>>
        {
            [100] = new[]
            {
                Entry(ForwardingLab.Mac(1), Self, "10.0.0.1"),
                Entry(ForwardingLab.Mac(2), "host-2", "10.0.0.2"),
                Entry(ForwardingLab.Mac(4), "host-4", "10.0.0.4"),
            }.ToDictionary(e => e.Mac),
        };
        var counters = new DataPlaneCounters(ports.Length);
        var snapshot = ForwardingBuilder.Build(ports, 7, Self, Address("10.0.0.1"), VxlanHeader.DefaultPort, segments, macs, counters, []);
        return (snapshot, counters);
    }

    [Fact]
    public void Segments_are_built_for_the_vnis_of_local_ports_only()
    {
        var (snapshot, _) = BuildHost();

        Assert.Equal(7, snapshot.Generation);
        Assert.Equal([100u, 200u, 900u], snapshot.Segments.Keys.Order());
        Assert.Equal([0, 1], snapshot.Segments[100].LocalPorts);
        Assert.Equal([1, 2], snapshot.Segments[200].LocalPorts);
        Assert.Equal([1], snapshot.Segments[900].LocalPorts);
    }

    [Fact]
    public void The_flood_list_excludes_our_own_host_and_names_each_vtep_once()
    {
        var (snapshot, _) = BuildHost();

        Assert.Equal([Address("10.0.0.2"), Address("10.0.0.3")], snapshot.Segments[100].FloodList.Select(v => v.Address).Order());
        Assert.Equal([Address("10.0.0.2")], snapshot.Segments[200].FloodList.Select(v => v.Address));
        Assert.Empty(snapshot.Segments[900].FloodList);
        Assert.All(snapshot.Segments.Values, s => Assert.DoesNotContain(Address("10.0.0.1"), (IReadOnlySet<uint>)s.Vteps));
    }

    [Fact]
    public void Remote_macs_exclude_our_own_hosts_entries_and_their_vteps_are_accepted_sources()
    {
        var (snapshot, _) = BuildHost();
        var segment = snapshot.Segments[100];

        Assert.Equal([ForwardingLab.Mac(2).Value, ForwardingLab.Mac(4).Value], segment.RemoteMacs.Keys.Order());
        Assert.Equal(Address("10.0.0.2"), segment.RemoteMacs[ForwardingLab.Mac(2).Value].Address);
        Assert.Equal([Address("10.0.0.2"), Address("10.0.0.3"), Address("10.0.0.4")], segment.Vteps.Order());
        Assert.Empty(snapshot.Segments[200].RemoteMacs);
    }

    [Fact]
    public void One_remote_vtep_object_serves_every_segment_and_mac_that_names_its_address()
    {
        var (snapshot, counters) = BuildHost();
        var inFlood100 = snapshot.Segments[100].FloodList.Single(v => v.Address == Address("10.0.0.2"));

        Assert.Same(inFlood100, snapshot.Segments[200].FloodList.Single());
        Assert.Same(inFlood100, snapshot.Segments[100].RemoteMacs[ForwardingLab.Mac(2).Value]);
        Assert.Same(counters.ForVni(100), snapshot.Segments[100].Counters);
    }

    [Fact]
    public void A_built_snapshot_forwards_a_trunk_vlan_into_its_port_groups_segment()
    {
        var (snapshot, counters) = BuildHost();
        var output = new RecordingOutput();
        var dataPlane = new DataPlane(snapshot, new LocalMacTable(snapshot.Ports.Length), counters, output, Address("10.0.0.1"), VxlanHeader.DefaultPort);
        byte[] tagged = ForwardingLab.Broadcast(ForwardingLab.Mac(0x55), vid: 25);
        var slot = new byte[FrameBatch.Headroom + FrameBatch.DefaultMaxFrameLength];
        tagged.CopyTo(slot, FrameBatch.Headroom);

        dataPlane.FromPort(1, slot, tagged.Length, new ForwardingScratch());

        var local = Assert.Single(output.Frames);
        Assert.Equal(2, local.Port);
        Assert.False(local.IsTagged);
        var datagram = Assert.Single(output.Datagrams);
        Assert.Equal(200u, datagram.Vni);
        Assert.Equal(Address("10.0.0.2"), datagram.OuterDestination);
        Assert.Equal(Address("10.0.0.1"), datagram.OuterSource);
        Assert.Equal(local.Frame, datagram.Inner);
    }
    [Fact]
    public void A_vtep_at_our_own_address_is_never_flooded_to_accepted_from_or_used_for_a_remote_mac()
    {
        // An external VTEP registered at this host's own underlay address, with a static MAC behind it.
        var ports = new[] { ForwardingBuilder.BuildPort(0, Bind("web"), Config(Web)) };
        var segments = new Dictionary<uint, SegmentSnapshot>
        {
            [100] = new(new Vni(100), Guid.NewGuid(), 2, [Flood(Self, "10.0.0.1"), Flood("external-10.0.0.1", "10.0.0.1"), Flood("host-2", "10.0.0.2")]),
        };
        var macs = new Dictionary<uint, IReadOnlyDictionary<MacAddress, MacEntry>>
        {
            [100] = new[] { Entry(ForwardingLab.Mac(7), "external-10.0.0.1", "10.0.0.1") }.ToDictionary(e => e.Mac),
        };

        var segment = ForwardingBuilder.Build(ports, 1, Self, Address("10.0.0.1"), VxlanHeader.DefaultPort, segments, macs, new DataPlaneCounters(1), []).Segments[100];

        Assert.Equal([Address("10.0.0.2")], segment.FloodList.Select(v => v.Address));
        Assert.DoesNotContain(Address("10.0.0.1"), (IEnumerable<uint>)segment.Vteps);
        Assert.Empty(segment.RemoteMacs);
    }

    [Fact]
    public void Port_security_comes_from_the_port_group_and_the_mac_from_the_port_binding()
    {
        var strict = Group("strict", 500, VlanPolicy.Untagged);
        var open = new PortGroup("open", new Vni(600), VlanPolicy.Untagged, new SecurityPolicy(4, AllowForgedTransmits: true, AllowPromiscuous: true));
        var config = Config(strict, open);
        var ports = new[]
        {
            ForwardingBuilder.BuildPort(0, new PortBindingOptions { Interface = "a", PortGroup = "strict", Mac = "02:00:00:00:00:0a" }, config),
            ForwardingBuilder.BuildPort(1, Bind("open", "b"), config),
        };

        Assert.False(ports[0].AllowForgedTransmits);
        Assert.False(ports[0].AllowPromiscuous);
        Assert.Equal(0x0200_0000_000AUL, ports[0].EffectiveMac);
        Assert.True(ports[1].AllowForgedTransmits);
        Assert.True(ports[1].AllowPromiscuous);
        Assert.Equal(0UL, ports[1].EffectiveMac);
        var snapshot = ForwardingBuilder.Build(ports, 1, Self, Address("10.0.0.1"), VxlanHeader.DefaultPort, new Dictionary<uint, SegmentSnapshot>(), new Dictionary<uint, IReadOnlyDictionary<MacAddress, MacEntry>>(), new DataPlaneCounters(2), []);
        Assert.Empty(snapshot.Segments[500].PromiscuousPorts);
        Assert.Equal([1], snapshot.Segments[600].PromiscuousPorts);
    }
}
