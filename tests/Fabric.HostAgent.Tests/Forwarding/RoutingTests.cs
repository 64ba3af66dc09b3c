using System.Buffers.Binary;
using System.Net;
using Fabric.Addressing;
using Fabric.Grains;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Control;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Ports;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>
/// The anycast gateway (docs/architecture.md, "Routing"): routing between the routed port groups of
/// a switch at ingress, into the destination VNI, with a router's ICMP. Tables are built by
/// <see cref="ForwardingBuilder"/> from a real switch configuration, as the agent builds them.
/// </summary>
[Trait("Category", "Unit")]
public sealed class RoutingTests
{
    private const string Self = "h1";
    private const uint Web = 100, Db = 200, Isolated = 300, Other = 400;
    private static readonly uint OwnVtep = Ipv4Address.Parse("10.0.0.1");
    private static readonly uint H2Vtep = Ipv4Address.Parse("10.0.0.2");
    private static readonly MacAddress WebVm = MacAddress.Parse("02:00:00:00:01:0a");
    private static readonly MacAddress DbLocal = MacAddress.Parse("02:00:00:00:02:0a");
    private static readonly MacAddress DbRemote = MacAddress.Parse("02:00:00:00:02:14");
    private static readonly MacAddress IsolatedVm = MacAddress.Parse("02:00:00:00:03:0a");
    private static readonly uint WebVmIp = Ipv4Address.Parse("10.1.0.10");
    private static readonly uint WebGateway = Ipv4Address.Parse("10.1.0.1");
    private static readonly uint DbGateway = Ipv4Address.Parse("10.2.0.1");
    private static readonly uint DbLocalIp = Ipv4Address.Parse("10.2.0.10");
    private static readonly uint DbRemoteIp = Ipv4Address.Parse("10.2.0.20");
    private static readonly uint IsolatedIp = Ipv4Address.Parse("10.3.0.10");
    private static readonly MacAddress Gateway = PortGroup.GatewayMac;

    private sealed class Lab
    {
        private readonly byte[] _slot = new byte[FrameBatch.Headroom + FrameBatch.GsoMaxFrameLength];

        public Lab(int mtu = 1450, Dhcp.DhcpPunts? punts = null)
        {
            static PortGroup Group(string name, uint vni, string subnet, string gateway, bool routed)
            {
                var parts = subnet.Split('/');
                var network = IPAddress.Parse(parts[0]);
                int prefix = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                var pool = new Ipv4Pool(network, prefix, IPAddress.Parse(gateway), [], [], Dhcp: name == "web");
                return new PortGroup(name, new Vni(vni), VlanPolicy.Untagged, new SecurityPolicy(64, true, false), 0, pool, routed);
            }

            var config = new SwitchConfig("sw", mtu, 3,
            [
                Group("web", Web, "10.1.0.0/24", "10.1.0.1", routed: true),
                Group("db", Db, "10.2.0.0/24", "10.2.0.1", routed: true),
                Group("isolated", Isolated, "10.3.0.0/24", "10.3.0.1", routed: false),
                Group("other", Other, "10.4.0.0/24", "10.4.0.1", routed: true),
            ], []);
            PortForwarding[] ports =
            [
                ForwardingBuilder.BuildPort(0, new PortBindingOptions { Interface = "web0", PortGroup = "web" }, config),
                ForwardingBuilder.BuildPort(1, new PortBindingOptions { Interface = "db0", PortGroup = "db" }, config),
                ForwardingBuilder.BuildPort(2, new PortBindingOptions { Interface = "iso0", PortGroup = "isolated" }, config),
            ];
            var flood = new Dictionary<uint, SegmentSnapshot>
            {
                [Web] = Segment(Web, ("h1", OwnVtep), ("h2", H2Vtep)),
                [Db] = Segment(Db, ("h1", OwnVtep), ("h2", H2Vtep)),
                [Isolated] = Segment(Isolated, ("h1", OwnVtep), ("h2", H2Vtep)),
                [Other] = Segment(Other, ("h2", H2Vtep)),
            };
            var macs = new Dictionary<uint, IReadOnlyDictionary<MacAddress, MacEntry>>
            {
                [Db] = new Dictionary<MacAddress, MacEntry>
                {
                    [DbLocal] = Entry(DbLocal, "h1", OwnVtep),
                    [DbRemote] = Entry(DbRemote, "h2", H2Vtep),
                },
                [Isolated] = new Dictionary<MacAddress, MacEntry> { [IsolatedVm] = Entry(IsolatedVm, "h1", OwnVtep) },
            };
            var bindings = new Dictionary<uint, IReadOnlyDictionary<IPAddress, MacAddress>>
            {
                [Db] = new Dictionary<IPAddress, MacAddress>
                {
                    [Ipv4Address.ToIPAddress(DbLocalIp)] = DbLocal,
                    [Ipv4Address.ToIPAddress(DbRemoteIp)] = DbRemote,
                },
                [Isolated] = new Dictionary<IPAddress, MacAddress> { [Ipv4Address.ToIPAddress(IsolatedIp)] = IsolatedVm },
            };
            Counters = new DataPlaneCounters(ports.Length);
            Macs = new LocalMacTable(ports.Length);
            Snapshot = ForwardingBuilder.Build(ports, config.Version, Self, OwnVtep, VxlanHeader.DefaultPort, flood, macs, Counters, [], bindings, null, mtu, config);
            DataPlane = new DataPlane(Snapshot, Macs, Counters, Output, OwnVtep, VxlanHeader.DefaultPort, dhcp: punts);
            Assert.True(Macs.Learn(Db, DbLocal.Value, 1, 64, Environment.TickCount64));
            Assert.True(Macs.Learn(Isolated, IsolatedVm.Value, 2, 64, Environment.TickCount64));
        }

        public ForwardingSnapshot Snapshot { get; }

        public DataPlaneCounters Counters { get; }

        public LocalMacTable Macs { get; }

        public RecordingOutput Output { get; } = new();

        public DataPlane DataPlane { get; }

        public ForwardingScratch Scratch { get; } = new();

        public void FromPort(int port, ReadOnlySpan<byte> frame, VirtioNetHeader offload = default)
        {
            _slot.AsSpan().Clear();
            frame.CopyTo(_slot.AsSpan(FrameBatch.Headroom));
            DataPlane.FromPort(port, _slot, frame.Length, Scratch, offload);
        }

        private static SegmentSnapshot Segment(uint vni, params (string Host, uint Vtep)[] members)
            => new(new Vni(vni), Guid.NewGuid(), 1, [.. members.Select(m => new FloodListEntry(m.Host, Ipv4Address.ToIPAddress(m.Vtep)))]);

        private static MacEntry Entry(MacAddress mac, string host, uint vtep)
            => new(mac, host, Ipv4Address.ToIPAddress(vtep), "eth0", 1, DateTimeOffset.UnixEpoch, false, false);
    }

    /// <summary>An ICMP echo request (RFC 792) in IPv4 (<paramref name="dontFragment"/>, <paramref name="ttl"/>) with <paramref name="payload"/> bytes of data.</summary>
    private static byte[] Echo(MacAddress destinationMac, MacAddress sourceMac, uint source, uint destination, byte ttl = 64, int payload = 56, bool dontFragment = true)
    {
        var frame = new byte[EthernetFrame.HeaderLength + 20 + 8 + payload];
        EthernetFrame.WriteHeader(frame, destinationMac, sourceMac, EtherType.Ipv4);
        Ipv4Packet.WriteHeader(frame.AsSpan(14), source, destination, IpProtocol.Icmp, (ushort)(28 + payload), 0x4242, ttl, dontFragment);
        var icmp = frame.AsSpan(34);
        icmp[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.Slice(4), 0x1234);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.Slice(6), 1);
        for (int i = 0; i < payload; i++)
        {
            icmp[8 + i] = (byte)i;
        }

        BinaryPrimitives.WriteUInt16BigEndian(icmp.Slice(2), InternetChecksum.Compute(icmp));
        return frame;
    }

    private static (uint Source, uint Destination, byte Ttl, byte Protocol) Ip(byte[] frame)
    {
        var ip = frame.AsSpan(14);
        Assert.True(InternetChecksum.Verify(ip.Slice(0, 20)), "IPv4 header checksum");
        return (BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(12)), BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(16)), ip[8], ip[9]);
    }

    private static (byte Type, byte Code, ushort NextHopMtu, byte[] Quoted) Icmp(byte[] frame)
    {
        int total = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(16));
        var icmp = frame.AsSpan(34, total - 20);
        Assert.True(InternetChecksum.Verify(icmp), "ICMP checksum");
        return (icmp[0], icmp[1], BinaryPrimitives.ReadUInt16BigEndian(icmp.Slice(6)), icmp.Slice(8).ToArray());
    }

    [Fact]
    public void The_gateway_answers_arp_for_its_address_with_the_fabric_wide_gateway_mac()
    {
        var lab = new Lab();

        lab.FromPort(0, Wire.TestFrames.ArpRequest(WebVm, WebVmIp, WebGateway));

        var reply = Assert.Single(lab.Output.Frames);
        Assert.Equal(0, reply.Port);
        Assert.True(ArpPacket.TryRead(reply.Frame.AsSpan(14), out var arp, out _));
        Assert.Equal(ArpOperation.Reply, arp.Operation);
        Assert.Equal(Gateway, arp.SenderHardwareAddress);
        Assert.Equal(WebGateway, arp.SenderProtocolAddress);
        Assert.Equal(Gateway, MacAddress.Read(reply.Frame.AsSpan(6)));
        Assert.Empty(lab.Output.Datagrams);
    }

    [Fact]
    public void A_unicast_arp_refresh_to_the_gateway_mac_is_answered_too()
    {
        var lab = new Lab();
        var request = Wire.TestFrames.ArpRequest(WebVm, WebVmIp, WebGateway);
        Gateway.Write(request); // RFC 1122 §2.3.2.1: a cached entry is checked with a unicast request

        lab.FromPort(0, request);

        var reply = Assert.Single(lab.Output.Frames);
        Assert.True(ArpPacket.TryRead(reply.Frame.AsSpan(14), out var arp, out _));
        Assert.Equal(Gateway, arp.SenderHardwareAddress);
        Assert.Equal(0, lab.Counters.Total.Flooded);
    }

    [Fact]
    public void An_echo_request_to_the_gateway_is_answered_from_the_gateway()
    {
        var lab = new Lab();

        lab.FromPort(0, Echo(Gateway, WebVm, WebVmIp, WebGateway));

        var reply = Assert.Single(lab.Output.Frames);
        Assert.Equal(WebVm, MacAddress.Read(reply.Frame));
        Assert.Equal(Gateway, MacAddress.Read(reply.Frame.AsSpan(6)));
        var ip = Ip(reply.Frame);
        Assert.Equal((WebGateway, WebVmIp, IpProtocol.Icmp), (ip.Source, ip.Destination, ip.Protocol));
        var icmp = Icmp(reply.Frame);
        Assert.Equal((0, 0), (icmp.Type, icmp.Code));
        Assert.Equal(1, lab.Counters.Total.IcmpSent);
    }

    [Fact]
    public void A_packet_to_a_vm_of_another_routed_port_group_on_this_host_is_delivered_with_macs_rewritten_and_ttl_decremented()
    {
        var lab = new Lab();

        lab.FromPort(0, Echo(Gateway, WebVm, WebVmIp, DbLocalIp, ttl: 64));

        var sent = Assert.Single(lab.Output.Frames);
        Assert.Equal(1, sent.Port);
        Assert.Equal(DbLocal, MacAddress.Read(sent.Frame));
        Assert.Equal(Gateway, MacAddress.Read(sent.Frame.AsSpan(6)));
        var ip = Ip(sent.Frame);
        Assert.Equal((WebVmIp, DbLocalIp, (byte)63), (ip.Source, ip.Destination, ip.Ttl));
        Assert.Equal(8, Icmp(sent.Frame).Type); // the payload is untouched and still verifies
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(1, lab.Counters.Total.Routed);
    }

    [Fact]
    public void A_packet_to_a_vm_on_another_host_crosses_the_underlay_once_in_the_destination_vni()
    {
        var lab = new Lab();

        lab.FromPort(0, Echo(Gateway, WebVm, WebVmIp, DbRemoteIp, ttl: 5));

        var datagram = Assert.Single(lab.Output.Datagrams);
        Assert.Equal(H2Vtep, datagram.OuterDestination);
        Assert.Equal(Db, datagram.Vni);
        Assert.Equal(DbRemote, MacAddress.Read(datagram.Inner));
        Assert.Equal(Gateway, MacAddress.Read(datagram.Inner.AsSpan(6)));
        Assert.Equal((byte)4, Ip(datagram.Inner).Ttl);
        Assert.Empty(lab.Output.Frames);
    }

    [Fact]
    public void A_packet_whose_ttl_runs_out_gets_time_exceeded_from_the_ingress_gateway_and_goes_no_further()
    {
        var lab = new Lab();
        var probe = Echo(Gateway, WebVm, WebVmIp, DbRemoteIp, ttl: 1);

        lab.FromPort(0, probe);

        var error = Assert.Single(lab.Output.Frames);
        Assert.Equal(0, error.Port);
        var ip = Ip(error.Frame);
        Assert.Equal((WebGateway, WebVmIp), (ip.Source, ip.Destination));
        var icmp = Icmp(error.Frame);
        Assert.Equal((11, 0), (icmp.Type, icmp.Code));
        Assert.Equal(probe.AsSpan(14, 28).ToArray(), icmp.Quoted.AsSpan(0, 28).ToArray()); // the offending header and 8 bytes
        Assert.Empty(lab.Output.Datagrams);
    }

    [Fact]
    public void A_packet_to_a_port_group_that_is_not_routed_gets_net_unreachable()
    {
        var lab = new Lab();

        lab.FromPort(0, Echo(Gateway, WebVm, WebVmIp, IsolatedIp));

        var error = Assert.Single(lab.Output.Frames);
        Assert.Equal(0, error.Port);
        Assert.Equal((3, 0), (Icmp(error.Frame).Type, Icmp(error.Frame).Code));
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(0, lab.Counters.Total.Routed);
    }

    [Fact]
    public void A_vm_of_a_port_group_that_is_not_routed_reaches_nothing_through_the_gateway_mac()
    {
        var lab = new Lab();

        lab.FromPort(2, Echo(Gateway, IsolatedVm, IsolatedIp, DbLocalIp));

        Assert.Equal(0, lab.Counters.Total.Routed);
        Assert.DoesNotContain(lab.Output.Frames, f => f.Port == 1);
        Assert.All(lab.Output.Datagrams, d => Assert.Equal(Isolated, d.Vni)); // flooded in its own segment, as unknown unicast
    }

    [Fact]
    public void A_packet_with_df_larger_than_the_mtu_gets_fragmentation_needed_with_the_mtu()
    {
        var lab = new Lab(mtu: 1450);

        lab.FromPort(0, Echo(Gateway, WebVm, WebVmIp, DbRemoteIp, payload: 1472)); // 1500 bytes of IPv4

        var error = Assert.Single(lab.Output.Frames);
        var icmp = Icmp(error.Frame);
        Assert.Equal((3, 4, (ushort)1450), (icmp.Type, icmp.Code, icmp.NextHopMtu));
        Assert.True(error.Frame.Length - 14 <= DataPlane.MaxIcmpErrorLength);
        Assert.Empty(lab.Output.Datagrams);

        lab.Output.Clear();
        lab.FromPort(0, Echo(Gateway, WebVm, WebVmIp, DbRemoteIp, payload: 1422)); // 1450: fits
        Assert.Single(lab.Output.Datagrams);
    }

    [Fact]
    public void An_unresolved_destination_is_asked_for_once_a_second_in_its_segment_and_the_packet_dropped()
    {
        var lab = new Lab();
        uint unknown = Ipv4Address.Parse("10.2.0.99");

        lab.FromPort(0, Echo(Gateway, WebVm, WebVmIp, unknown));
        lab.FromPort(0, Echo(Gateway, WebVm, WebVmIp, unknown));

        // One ARP request from the gateway: to db's local port and to h2 in VNI 200, not twice.
        var local = Assert.Single(lab.Output.Frames);
        Assert.Equal(1, local.Port);
        Assert.True(ArpPacket.TryRead(local.Frame.AsSpan(14), out var arp, out _));
        Assert.Equal((ArpOperation.Request, Gateway, DbGateway, unknown), (arp.Operation, arp.SenderHardwareAddress, arp.SenderProtocolAddress, arp.TargetProtocolAddress));
        var remote = Assert.Single(lab.Output.Datagrams);
        Assert.Equal((H2Vtep, Db), (remote.OuterDestination, remote.Vni));
        Assert.Equal(2, lab.Counters.Total.DropsOf(DataPlaneDrop.RouteUnresolved));
    }

    [Fact]
    public void A_source_address_outside_the_ingress_subnet_is_not_routed()
    {
        var lab = new Lab();

        lab.FromPort(0, Echo(Gateway, WebVm, DbRemoteIp, DbLocalIp));

        Assert.Empty(lab.Output.Frames);
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(1, lab.Counters.Total.DropsOf(DataPlaneDrop.NotRoutable));
    }

    [Fact]
    public void A_vm_cannot_send_as_the_gateway_mac()
    {
        var lab = new Lab();

        lab.FromPort(0, Echo(WebVm, Gateway, WebVmIp, DbLocalIp));

        Assert.Empty(lab.Output.Frames);
        Assert.Equal(1, lab.Counters.Total.DropsOf(DataPlaneDrop.ForgedTransmit));
        Assert.False(lab.Macs.TryGet(Web, Gateway.Value, out _));
    }

    [Fact]
    public void A_udp_datagram_to_the_gateway_gets_port_unreachable()
    {
        var lab = new Lab();

        lab.FromPort(0, Wire.TestFrames.UdpFrame(Gateway, WebVm, WebVmIp, WebGateway, 40000, 33434));

        var error = Assert.Single(lab.Output.Frames);
        Assert.Equal((3, 3), (Icmp(error.Frame).Type, Icmp(error.Frame).Code));
    }

    [Fact]
    public void No_icmp_error_answers_an_icmp_error()
    {
        var lab = new Lab();
        var error = Echo(Gateway, WebVm, WebVmIp, DbRemoteIp, ttl: 1);
        error[34] = 3; // destination unreachable, not an echo request
        BinaryPrimitives.WriteUInt16BigEndian(error.AsSpan(36), 0);
        BinaryPrimitives.WriteUInt16BigEndian(error.AsSpan(36), InternetChecksum.Compute(error.AsSpan(34)));

        lab.FromPort(0, error);

        Assert.Empty(lab.Output.Frames);
    }

    /// <summary>A DHCPDISCOVER from <paramref name="client"/> (RFC 2131 §4.1: 0.0.0.0:68 → 255.255.255.255:67, broadcast).</summary>
    private static byte[] Discover(MacAddress client)
    {
        var payload = new byte[300];
        payload[0] = 1;
        payload[1] = 1;
        payload[2] = 6;
        client.Write(payload.AsSpan(28));
        BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(236), DhcpMessage.MagicCookie);
        payload[240] = 53;
        payload[241] = 1;
        payload[242] = 1;
        payload[243] = 255;
        var frame = Wire.TestFrames.UdpFrame(MacAddress.Broadcast, client, 0, uint.MaxValue, 68, 67, payload.Length);
        payload.CopyTo(frame.AsSpan(42));
        return frame;
    }

    [Fact]
    public void A_dhcp_client_message_on_a_segment_that_serves_dhcp_goes_to_the_agents_server_and_nowhere_else()
    {
        var punts = new Dhcp.DhcpPunts();
        var lab = new Lab(punts: punts);
        var discover = Discover(WebVm);

        lab.FromPort(0, discover);

        Assert.Empty(lab.Output.Frames);
        Assert.Empty(lab.Output.Datagrams);
        var taken = new byte[Dhcp.DhcpPunts.MaxFrameLength];
        Assert.True(punts.TryTake(taken, out int length, out int port, out uint vni));
        Assert.Equal((discover.Length, 0, Web), (length, port, vni));
        Assert.Equal(discover, taken.AsSpan(0, length).ToArray());
        Assert.False(punts.TryTake(taken, out _, out _, out _));
    }

    [Fact]
    public void A_dhcp_client_message_on_a_segment_without_dhcp_is_switched_as_any_broadcast()
    {
        var punts = new Dhcp.DhcpPunts();
        var lab = new Lab(punts: punts);

        lab.FromPort(1, Discover(DbLocal)); // db does not serve DHCP: a DHCP server VM of its own may

        Assert.False(punts.TryTake(new byte[Dhcp.DhcpPunts.MaxFrameLength], out _, out _, out _));
        Assert.Single(lab.Output.Datagrams); // flooded to h2 in db's VNI
        Assert.Equal(1, lab.Counters.Total.Flooded);
    }

    [Fact]
    public void When_the_dhcp_queue_is_full_a_client_message_is_dropped_and_counted_and_nothing_allocates()
    {
        var punts = new Dhcp.DhcpPunts();
        var lab = new Lab(punts: punts);
        var discover = Discover(WebVm);
        var slot = new byte[FrameBatch.Headroom + FrameBatch.DefaultMaxFrameLength];
        var taken = new byte[Dhcp.DhcpPunts.MaxFrameLength];
        for (int i = 0; i < 1000; i++)
        {
            discover.CopyTo(slot.AsSpan(FrameBatch.Headroom));
            lab.DataPlane.FromPort(0, slot, discover.Length, lab.Scratch);
            Assert.True(punts.TryTake(taken, out _, out _, out _));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Dhcp.DhcpPunts.Capacity + 10; i++)
        {
            discover.CopyTo(slot.AsSpan(FrameBatch.Headroom));
            lab.DataPlane.FromPort(0, slot, discover.Length, lab.Scratch);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10, lab.Counters.Total.DropsOf(DataPlaneDrop.DhcpUnserved));
    }

    [Fact]
    public void Routing_answering_and_resolving_allocate_nothing_per_frame()
    {
        var lab = new Lab();
        lab.Output.Recording = false;
        var slot = new byte[FrameBatch.Headroom + FrameBatch.DefaultMaxFrameLength];
        byte[][] inputs =
        [
            Echo(Gateway, WebVm, WebVmIp, DbLocalIp),
            Echo(Gateway, WebVm, WebVmIp, DbRemoteIp),
            Echo(Gateway, WebVm, WebVmIp, WebGateway),
            Echo(Gateway, WebVm, WebVmIp, DbRemoteIp, ttl: 1),
            Echo(Gateway, WebVm, WebVmIp, DbRemoteIp, payload: 1472),
            Echo(Gateway, WebVm, WebVmIp, Ipv4Address.Parse("10.2.0.99")),
            Wire.TestFrames.ArpRequest(WebVm, WebVmIp, WebGateway),
        ];

        void RunAll()
        {
            foreach (var input in inputs)
            {
                input.CopyTo(slot.AsSpan(FrameBatch.Headroom));
                lab.DataPlane.FromPort(0, slot, input.Length, lab.Scratch);
            }
        }

        for (int i = 0; i < 1000; i++)
        {
            RunAll();
        }

        long routed = lab.Counters.Total.Routed, icmp = lab.Counters.Total.IcmpSent;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            RunAll();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(20_000, lab.Counters.Total.Routed - routed);
        Assert.Equal(30_000, lab.Counters.Total.IcmpSent - icmp);
    }
}
