using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Wire.TestFrames;

namespace Fabric.HostAgent.Tests.Wire;

[Trait("Category", "Unit")]
public sealed class FlowHashTests
{
    private static readonly uint ClientIp = Ipv4Address.Parse("192.168.10.1");
    private static readonly uint ServerIp = Ipv4Address.Parse("192.168.10.2");

    private static byte[] Flow(ushort sourcePort = 40000, ushort destinationPort = 443, uint? source = null, uint? destination = null, MacAddress? sourceMac = null, MacAddress? destinationMac = null, byte protocol = IpProtocol.Udp, VlanTag? tag = null)
        => UdpFrame(destinationMac ?? HostB, sourceMac ?? HostA, source ?? ClientIp, destination ?? ServerIp, sourcePort, destinationPort, tag: tag, protocol: protocol);

    [Fact]
    public void The_same_flow_always_gets_the_same_source_port()
    {
        ushort first = FlowHash.SourcePort(Flow());
        Assert.Equal(first, FlowHash.SourcePort(Flow()));

        // Other bytes of the frame (IP id, payload) are not part of the flow.
        byte[] other = Flow();
        other[^1] ^= 0xFF;
        other[19] ^= 0xFF; // IPv4 identification
        Assert.Equal(first, FlowHash.SourcePort(other));
        Assert.Equal(first, ReadUInt16(Encapsulate(Flow()), 34)); // and it is the port the encapsulator writes
    }

    [Fact]
    public void Source_ports_stay_in_the_dynamic_range_and_spread_over_it()
    {
        var seen = new HashSet<ushort>();
        for (int i = 0; i < 4000; i++)
        {
            ushort port = FlowHash.SourcePort(Flow(sourcePort: (ushort)(1024 + i)));
            Assert.InRange(port, (ushort)49152, (ushort)65535);
            seen.Add(port);
        }

        // 4000 flows into 16384 ports: about 3550 distinct expected for a uniform hash.
        Assert.True(seen.Count > 3300, $"only {seen.Count} distinct ports");
        Assert.Contains(seen, p => p < 49152 + 1024);
        Assert.Contains(seen, p => p > 65535 - 1024);
    }

    [Fact]
    public void Source_ports_vary_with_every_part_of_the_inner_flow()
    {
        ushort baseline = FlowHash.SourcePort(Flow());
        Assert.NotEqual(baseline, FlowHash.SourcePort(Flow(sourcePort: 40001)));
        Assert.NotEqual(baseline, FlowHash.SourcePort(Flow(destinationPort: 444)));
        Assert.NotEqual(baseline, FlowHash.SourcePort(Flow(source: ClientIp + 1)));
        Assert.NotEqual(baseline, FlowHash.SourcePort(Flow(destination: ServerIp + 1)));
        Assert.NotEqual(baseline, FlowHash.SourcePort(Flow(protocol: IpProtocol.Tcp)));
        Assert.NotEqual(baseline, FlowHash.SourcePort(Flow(sourceMac: MacAddress.Parse("02:00:00:00:00:0c"))));
        Assert.NotEqual(baseline, FlowHash.SourcePort(Flow(destinationMac: MacAddress.Parse("02:00:00:00:00:0c"))));
        Assert.NotEqual(baseline, FlowHash.SourcePort(Flow(tag: VlanTag.Create(new VlanId(7)))));

        byte[] otherType = Flow();
        otherType[13] = 0xDD; // EtherType 0x08DD
        Assert.NotEqual(baseline, FlowHash.SourcePort(otherType));
    }

    [Fact]
    public void Arp_flows_hash_on_macs_and_ethertype()
    {
        byte[] a = ArpRequest(HostA, ClientIp, ServerIp);
        byte[] b = ArpRequest(HostB, ClientIp, ServerIp);
        Assert.NotEqual(FlowHash.SourcePort(a), FlowHash.SourcePort(b));
        Assert.Equal(FlowHash.SourcePort(a), FlowHash.SourcePort(ArpRequest(HostA, ClientIp + 7, ServerIp)));
    }

    [Fact]
    public void Fragments_of_one_datagram_hash_alike_whatever_bytes_follow_the_ip_header()
    {
        static byte[] Fragment(ushort flagsAndOffset, ushort l4Bytes)
        {
            byte[] frame = Flow();
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(20), flagsAndOffset);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(34), l4Bytes);
            return frame;
        }

        ushort first = FlowHash.SourcePort(Fragment(0x2000, 40000));
        Assert.Equal(first, FlowHash.SourcePort(Fragment(0x0010, 0x6162)));
        Assert.Equal(first, FlowHash.SourcePort(Fragment(0x2020, 0x1234)));
    }

    [Fact]
    public void Hashing_a_short_or_odd_frame_does_not_throw()
    {
        for (int length = 0; length < 64; length++)
        {
            ushort port = FlowHash.SourcePort(Flow().AsSpan(0, Math.Min(length, 74)));
            Assert.InRange(port, (ushort)49152, (ushort)65535);
        }
    }
}
