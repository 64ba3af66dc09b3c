using Fabric.Addressing;
using Fabric.HostAgent.Tests.Wire;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Wire.TestFrames;

namespace Fabric.HostAgent.Tests.Interop;

/// <summary>
/// Frames we build, written to a pcap and decoded by tshark: what Wireshark's dissectors read must be
/// what we meant to write, and they must find nothing malformed and no bad checksum.
/// </summary>
[Trait("Category", "Interop")]
public sealed class TsharkJudgeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fabric-wire-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string WritePcap(string name, IReadOnlyList<byte[]> frames)
    {
        string path = Path.Combine(_directory, name);
        PcapFile.Write(path, frames);
        return path;
    }

    private static string Mac(MacAddress mac) => mac.ToString();

    private static string Ip(uint address) => Ipv4Address.Format(address);

    private void AssertNoComplaints(string pcap)
    {
        IReadOnlyList<string> complaints = Tshark.Complaints(pcap);
        Assert.True(complaints.Count == 0, string.Join('\n', complaints) + "\n" + Tshark.ExpertSummary(pcap));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Encapsulated_arp_requests_decode_in_tshark_as_built(bool computeUdpChecksum)
    {
        var flows = new (MacAddress Sender, uint SenderIp, uint TargetIp, uint Vni)[]
        {
            (HostA, Ipv4Address.Parse("192.168.10.1"), Ipv4Address.Parse("192.168.10.2"), 5001),
            (HostB, Ipv4Address.Parse("172.16.0.9"), Ipv4Address.Parse("172.16.0.1"), 1),
            (MacAddress.Parse("0a:bc:de:f0:12:34"), Ipv4Address.Parse("10.9.8.7"), Ipv4Address.Parse("10.9.8.254"), 16_777_215),
        };
        var frames = flows.Select(f => Encapsulate(ArpRequest(f.Sender, f.SenderIp, f.TargetIp), f.Vni, computeUdpChecksum)).ToList();
        string pcap = WritePcap("arp.pcap", frames);

        IReadOnlyList<string[]> rows = Tshark.Fields(
            pcap,
            "vxlan.vni", "vxlan.flags", "eth.src", "eth.dst", "ip.src", "ip.dst", "ip.checksum.status", "ip.flags.df", "ip.ttl",
            "udp.srcport", "udp.dstport", "udp.checksum.status",
            "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4");

        Assert.Equal(flows.Length, rows.Count);
        for (int i = 0; i < flows.Length; i++)
        {
            var f = flows[i];
            string[] row = rows[i];
            Assert.Equal(f.Vni.ToString(System.Globalization.CultureInfo.InvariantCulture), row[0]);
            Assert.Equal("0x0800", row[1]); // the I flag (0x08 in the first octet) and nothing else
            Assert.Equal($"{Mac(VtepMac)}|{Mac(f.Sender)}", row[2]);
            Assert.Equal($"{Mac(RouterMac)}|ff:ff:ff:ff:ff:ff", row[3]);
            Assert.Equal(Ip(VtepAddress), row[4]);
            Assert.Equal(Ip(RemoteVtepAddress), row[5]);
            Assert.Equal("1", row[6]); // good
            Assert.Equal("1", row[7]);
            Assert.Equal("64", row[8]);
            Assert.Equal(FlowHash.SourcePort(frames[i].AsSpan(50)).ToString(System.Globalization.CultureInfo.InvariantCulture), row[9]);
            Assert.Equal("4789", row[10]);
            Assert.Equal(computeUdpChecksum ? "1" : "3", row[11]); // good, or not present (checksum 0)
            Assert.Equal("1", row[12]); // request
            Assert.Equal(Mac(f.Sender), row[13]);
            Assert.Equal(Ip(f.SenderIp), row[14]);
            Assert.Equal("00:00:00:00:00:00", row[15]);
            Assert.Equal(Ip(f.TargetIp), row[16]);
        }

        AssertNoComplaints(pcap);
    }

    [Fact]
    public void Encapsulated_802_1q_tagged_ipv4_udp_flows_decode_in_tshark_as_built()
    {
        // Inner ports without a Wireshark dissector: our filler payload is not DNS or NTP, and would be malformed as such.
        var flows = new (ushort Vlan, byte Priority, uint Source, uint Destination, ushort SourcePort, ushort DestinationPort, uint Vni)[]
        {
            (100, 0, Ipv4Address.Parse("192.168.10.1"), Ipv4Address.Parse("192.168.10.2"), 40000, 46001, 5001),
            (100, 5, Ipv4Address.Parse("192.168.10.1"), Ipv4Address.Parse("192.168.10.2"), 40001, 46001, 5001),
            (4094, 7, Ipv4Address.Parse("10.1.2.3"), Ipv4Address.Parse("10.3.2.1"), 45353, 46002, 42),
            (1, 1, Ipv4Address.Parse("100.64.0.1"), Ipv4Address.Parse("100.64.0.2"), 45123, 46003, 1_000_000),
        };
        var frames = new List<byte[]>();
        foreach (var f in flows)
        {
            byte[] inner = UdpFrame(HostB, HostA, f.Source, f.Destination, f.SourcePort, f.DestinationPort, payloadLength: 100, tag: VlanTag.Create(new VlanId(f.Vlan), f.Priority));
            frames.Add(Encapsulate(inner, f.Vni, identification: (ushort)frames.Count));
        }

        string pcap = WritePcap("tagged-udp.pcap", frames);
        IReadOnlyList<string[]> rows = Tshark.Fields(
            pcap,
            "vxlan.vni", "eth.src", "eth.dst", "vlan.id", "vlan.priority", "ip.src", "ip.dst", "ip.checksum.status",
            "udp.srcport", "udp.dstport", "udp.checksum.status", "udp.length");

        Assert.Equal(flows.Length, rows.Count);
        var outerPorts = new HashSet<string>();
        for (int i = 0; i < flows.Length; i++)
        {
            var f = flows[i];
            string[] row = rows[i];
            string outerPort = FlowHash.SourcePort(frames[i].AsSpan(50)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            outerPorts.Add(outerPort);
            Assert.Equal(f.Vni.ToString(System.Globalization.CultureInfo.InvariantCulture), row[0]);
            Assert.Equal($"{Mac(VtepMac)}|{Mac(HostA)}", row[1]);
            Assert.Equal($"{Mac(RouterMac)}|{Mac(HostB)}", row[2]);
            Assert.Equal(f.Vlan.ToString(System.Globalization.CultureInfo.InvariantCulture), row[3]);
            Assert.Equal(f.Priority.ToString(System.Globalization.CultureInfo.InvariantCulture), row[4]);
            Assert.Equal($"{Ip(VtepAddress)}|{Ip(f.Source)}", row[5]);
            Assert.Equal($"{Ip(RemoteVtepAddress)}|{Ip(f.Destination)}", row[6]);
            Assert.Equal("1|1", row[7]); // outer and inner IPv4 header checksums good
            Assert.Equal($"{outerPort}|{f.SourcePort}", row[8]);
            Assert.Equal($"4789|{f.DestinationPort}", row[9]);
            Assert.Equal("3|1", row[10]); // outer: not present (RFC 7348 §5); inner: good
            Assert.Equal($"{8 + 8 + 18 + 20 + 8 + 100}|{8 + 100}", row[11]);
        }

        Assert.Equal(flows.Length, outerPorts.Count); // four flows, four outer source ports
        AssertNoComplaints(pcap);
    }

    [Fact]
    public void Dhcp_offer_and_ack_decode_in_tshark_as_built()
    {
        uint server = Ipv4Address.Parse("10.1.0.1");
        uint offered = Ipv4Address.Parse("10.1.0.23");
        uint[] dns = [Ipv4Address.Parse("10.1.0.1"), Ipv4Address.Parse("1.1.1.1")];
        var replies = new (DhcpMessageType Type, MacAddress DestinationMac, uint DestinationIp, ushort Flags, uint Xid)[]
        {
            (DhcpMessageType.Offer, MacAddress.Broadcast, uint.MaxValue, DhcpMessage.BroadcastFlag, 0x3903F326), // broadcast bit set
            (DhcpMessageType.Ack, HostA, offered, 0, 0x3903F327),                                            // unicast to yiaddr at chaddr
        };
        var frames = new List<byte[]>();
        foreach (var r in replies)
        {
            var buffer = new byte[DhcpReply.MaxFrameLength];
            int length = DhcpReply.Write(buffer, new DhcpReplyFields
            {
                DestinationMac = r.DestinationMac,
                SourceMac = RouterMac,
                SourceAddress = server,
                DestinationAddress = r.DestinationIp,
                Identification = (ushort)frames.Count,
                MessageType = r.Type,
                TransactionId = r.Xid,
                Flags = r.Flags,
                YourAddress = offered,
                ClientHardwareAddress = HostA,
                ServerIdentifier = server,
                LeaseSeconds = 3600,
                SubnetMask = Ipv4Address.Parse("255.255.255.0"),
                Router = server,
                DnsServers = dns,
                InterfaceMtu = 1450,
            });
            Assert.NotEqual(0, length);
            frames.Add(buffer.AsSpan(0, length).ToArray());
        }

        string pcap = WritePcap("dhcp.pcap", frames);
        IReadOnlyList<string[]> rows = Tshark.Fields(
            pcap,
            "dhcp.option.dhcp", "dhcp.ip.your", "dhcp.option.subnet_mask", "dhcp.option.router", "dhcp.option.domain_name_server",
            "dhcp.option.interface_mtu", "dhcp.option.ip_address_lease_time", "dhcp.option.dhcp_server_id", "udp.checksum.status",
            "ip.checksum.status", "dhcp.option.renewal_time_value", "dhcp.option.rebinding_time_value", "dhcp.id", "dhcp.hw.mac_addr",
            "dhcp.flags.bc", "eth.dst", "ip.src", "ip.dst", "udp.srcport", "udp.dstport", "ip.flags.df", "ip.ttl");

        Assert.Equal(replies.Length, rows.Count);
        for (int i = 0; i < replies.Length; i++)
        {
            var r = replies[i];
            string[] row = rows[i];
            Assert.Equal(((byte)r.Type).ToString(System.Globalization.CultureInfo.InvariantCulture), row[0]); // 2 offer, 5 ack
            Assert.Equal("10.1.0.23", row[1]);
            Assert.Equal("255.255.255.0", row[2]);
            Assert.Equal("10.1.0.1", row[3]);
            Assert.Equal("10.1.0.1|1.1.1.1", row[4]);
            Assert.Equal("1450", row[5]);
            Assert.Equal("3600", row[6]);
            Assert.Equal("10.1.0.1", row[7]);
            Assert.Equal("1", row[8]); // UDP checksum good
            Assert.Equal("1", row[9]); // IPv4 header checksum good
            Assert.Equal("1800", row[10]);
            Assert.Equal("3150", row[11]);
            Assert.Equal($"0x{r.Xid:x8}", row[12]);
            Assert.Equal(Mac(HostA), row[13]);
            Assert.Equal(r.Flags != 0 ? "1" : "0", row[14]);
            Assert.Equal(Mac(r.DestinationMac), row[15]);
            Assert.Equal("10.1.0.1", row[16]);
            Assert.Equal(Ip(r.DestinationIp), row[17]);
            Assert.Equal("67", row[18]);
            Assert.Equal("68", row[19]);
            Assert.Equal("0", row[20]);
            Assert.Equal("64", row[21]);
        }

        AssertNoComplaints(pcap);
    }

    [Fact]
    public void The_judge_notices_a_bad_checksum_so_its_silence_means_something()
    {
        byte[] frame = Encapsulate(ArpRequest(HostA, 1, 2));
        frame[22]--; // outer TTL changed, checksum left stale
        string pcap = WritePcap("bad.pcap", [frame]);
        Assert.Single(Tshark.Complaints(pcap));
    }

    [Fact]
    public void The_judge_notices_a_malformed_frame()
    {
        byte[] frame = Encapsulate(UdpFrame(HostB, HostA, 1, 2, 3, 4));
        byte[] cut = frame.AsSpan(0, frame.Length - 20).ToArray(); // IPv4 total length now exceeds the frame
        string pcap = WritePcap("cut.pcap", [cut]);
        Assert.NotEmpty(Tshark.Complaints(pcap));
    }
}
