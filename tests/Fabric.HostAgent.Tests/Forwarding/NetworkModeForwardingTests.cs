using System.Net;
using Fabric.Addressing;
using Fabric.Grains;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Control;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>
/// Host-local network modes in the tables and the pipeline (docs/architecture.md, "Network modes"):
/// host-only, NAT and bridged segments tunnel nothing; the uplink carries the bridged port groups
/// untagged or in their uplink VLAN and lets in only what is for this host's VMs.
/// </summary>
[Trait("Category", "Unit")]
public sealed class NetworkModeForwardingTests
{
    private const uint Lan = 10, Lan100 = 11, Nat = 12;
    private const int LanVm = 0, Lan100Vm = 1, Uplink = 2, NatVm = 3, NatGateway = 4;
    private static readonly uint OwnVtep = Ipv4Address.Parse("10.0.0.1");
    private static readonly MacAddress LanVmMac = MacAddress.Parse("02:00:00:00:00:10");
    private static readonly MacAddress Lan100VmMac = MacAddress.Parse("02:00:00:00:00:11");
    private static readonly MacAddress NatVmMac = MacAddress.Parse("02:00:00:00:00:12");
    private static readonly MacAddress LanHost = MacAddress.Parse("02:aa:00:00:00:01");
    private static readonly MacAddress Elsewhere = MacAddress.Parse("02:aa:00:00:00:99");

    private sealed class Lab
    {
        private readonly byte[] _slot = new byte[Fabric.HostAgent.Ports.FrameBatch.Headroom + Fabric.HostAgent.Ports.FrameBatch.DefaultMaxFrameLength];

        public Lab()
        {
            var config = new SwitchConfig("sw", 1450, 1,
            [
                new PortGroup("lan", new Vni(Lan), VlanPolicy.Untagged, SecurityPolicy.Default, Network: NetworkMode.Bridged),
                new PortGroup("lan100", new Vni(Lan100), VlanPolicy.Untagged, SecurityPolicy.Default, Network: NetworkMode.Bridged, UplinkVlan: new VlanId(100)),
                new PortGroup("nat", new Vni(Nat), VlanPolicy.Untagged, SecurityPolicy.Default,
                    Ipv4: new Ipv4Pool(IPAddress.Parse("192.168.50.0"), 24, IPAddress.Parse("192.168.50.1"), [], []), Network: NetworkMode.Nat),
            ], []);
            Ports =
            [
                ForwardingBuilder.BuildPort(LanVm, new PortBindingOptions { Interface = "vm0", PortGroup = "lan" }, config),
                ForwardingBuilder.BuildPort(Lan100Vm, new PortBindingOptions { Interface = "vm1", PortGroup = "lan100" }, config),
                ForwardingBuilder.BuildPort(Uplink, new PortBindingOptions { Interface = "uplink", PortGroup = "lan", Role = PortRole.Uplink }, config),
                ForwardingBuilder.BuildPort(NatVm, new PortBindingOptions { Interface = "vm3", PortGroup = "nat" }, config),
                ForwardingBuilder.BuildPort(NatGateway, new PortBindingOptions { Interface = "fgp12", PortGroup = "nat", Mac = PortGroup.GatewayMac.ToString(), Role = PortRole.Gateway }, config),
            ];

            // What a grain might still hold for these VNIs (say, from before the mode changed) is ignored.
            var stale = new[] { Lan, Lan100, Nat }.ToDictionary(v => v, v => new SegmentSnapshot(new Vni(v), Guid.NewGuid(), 1, [new FloodListEntry("h2", IPAddress.Parse("10.0.0.2"))]));
            var macs = new[] { Lan, Lan100, Nat }.ToDictionary(v => v, v => (IReadOnlyDictionary<MacAddress, MacEntry>)new Dictionary<MacAddress, MacEntry>
            {
                [Elsewhere] = new(Elsewhere, "h2", IPAddress.Parse("10.0.0.2"), "eth0", 1, DateTimeOffset.UnixEpoch, false, false),
            });
            Counters = new DataPlaneCounters(Ports.Length);
            Macs = new LocalMacTable(Ports.Length);
            Snapshot = ForwardingBuilder.Build(Ports, 1, "h1", OwnVtep, VxlanHeader.DefaultPort, stale, macs, Counters, [], null, null, 1450, config);
            DataPlane = new DataPlane(Snapshot, Macs, Counters, Output, OwnVtep, VxlanHeader.DefaultPort);
            Assert.True(Macs.Learn(Lan, LanVmMac.Value, LanVm, 64, Environment.TickCount64));
            Assert.True(Macs.Learn(Lan100, Lan100VmMac.Value, Lan100Vm, 64, Environment.TickCount64));
        }

        public PortForwarding[] Ports { get; }

        public ForwardingSnapshot Snapshot { get; }

        public DataPlaneCounters Counters { get; }

        public LocalMacTable Macs { get; }

        public RecordingOutput Output { get; } = new();

        public DataPlane DataPlane { get; }

        public void FromPort(int port, ReadOnlySpan<byte> frame)
        {
            _slot.AsSpan().Clear();
            frame.CopyTo(_slot.AsSpan(Fabric.HostAgent.Ports.FrameBatch.Headroom));
            DataPlane.FromPort(port, _slot, frame.Length, new ForwardingScratch());
        }
    }

    private static byte[] Frame(MacAddress destination, MacAddress source, ushort? vid = null)
        => Wire.TestFrames.UdpFrame(destination, source, Ipv4Address.Parse("192.168.50.10"), Ipv4Address.Parse("192.168.50.20"), 1000, 2000, tag: vid is { } v ? new VlanTag(v) : null);

    [Fact]
    public void Host_local_segments_have_no_flood_list_no_remote_macs_and_are_marked_so()
    {
        var lab = new Lab();

        foreach (uint vni in new[] { Lan, Lan100, Nat })
        {
            var segment = lab.Snapshot.Segments[vni];
            Assert.True(segment.HostLocal);
            Assert.Empty(segment.FloodList);
            Assert.Empty(segment.RemoteMacs);
            Assert.Empty(segment.Vteps);
        }
    }

    [Fact]
    public void The_uplink_carries_the_untagged_bridged_port_group_natively_and_the_others_in_their_vlans()
    {
        var lab = new Lab();
        var uplink = lab.Ports[Uplink];

        Assert.True(uplink.IsUplink && uplink.Trunk && uplink.AllowForgedTransmits);
        Assert.Equal(Lan, uplink.NativeVni);
        Assert.Equal(Lan100, uplink.VniByVid[100]);
        Assert.Equal(Uplink, lab.Snapshot.Segments[Lan].UplinkPort);
        Assert.Equal(Uplink, lab.Snapshot.Segments[Lan100].UplinkPort);
        Assert.Equal(-1, lab.Snapshot.Segments[Nat].UplinkPort);
    }

    [Fact]
    public void A_bridged_vms_broadcast_leaves_on_the_uplink_untunnelled_and_tagged_with_its_uplink_vlan()
    {
        var lab = new Lab();

        lab.FromPort(LanVm, Frame(MacAddress.Broadcast, LanVmMac));
        lab.FromPort(Lan100Vm, Frame(MacAddress.Broadcast, Lan100VmMac));

        Assert.Empty(lab.Output.Datagrams);
        var sent = lab.Output.Frames.Where(f => f.Port == Uplink).ToArray();
        Assert.Equal(2, sent.Length);
        Assert.False(sent[0].IsTagged);
        Assert.Equal(100, sent[1].Vid);
    }

    [Fact]
    public void From_the_uplink_only_frames_for_this_hosts_vms_get_in()
    {
        var lab = new Lab();

        lab.FromPort(Uplink, Frame(Elsewhere, LanHost));               // another machine's unicast (or the underlay's)
        lab.FromPort(Uplink, Frame(LanVmMac, LanHost));                // to the VM
        lab.FromPort(Uplink, Frame(MacAddress.Broadcast, LanHost));    // a broadcast
        lab.FromPort(Uplink, Frame(Lan100VmMac, LanHost, vid: 100));   // to the VLAN 100 VM, tagged

        Assert.Equal(1, lab.Counters.Total.DropsOf(DataPlaneDrop.UplinkNotForThisHost));
        Assert.Equal([LanVm, LanVm, Lan100Vm], lab.Output.Frames.Select(f => f.Port));
        Assert.Empty(lab.Output.Datagrams);

        // What the uplink taught: the LAN host is reached through it alone.
        lab.Output.Clear();
        lab.FromPort(LanVm, Frame(LanHost, LanVmMac));
        Assert.Equal([Uplink], lab.Output.Frames.Select(f => f.Port));
    }

    [Fact]
    public void Only_the_gateway_port_speaks_with_the_gateway_mac()
    {
        var lab = new Lab();

        lab.FromPort(NatGateway, Frame(MacAddress.Broadcast, PortGroup.GatewayMac));
        Assert.Equal([NatVm], lab.Output.Frames.Select(f => f.Port));

        lab.Output.Clear();
        lab.FromPort(NatVm, Frame(MacAddress.Broadcast, PortGroup.GatewayMac));
        Assert.Empty(lab.Output.Frames);
        Assert.Equal(1, lab.Counters.Total.DropsOf(DataPlaneDrop.ForgedTransmit));
    }
}
