using BenchmarkDotNet.Attributes;
using Fabric.Addressing;
using Fabric.HostAgent.Wire;

namespace Fabric.Benchmarks;

/// <summary>
/// The per-frame cost of the wire codecs, one frame per invocation: parse (Ethernet + IPv4 with
/// checksum verification), encapsulate into a reused buffer, and decapsulate (VTEP socket payload
/// and whole outer frame). Every benchmark must report 0 B allocated.
/// </summary>
[MemoryDiagnoser]
public class WireBenchmarks
{
    private static readonly MacAddress HostA = MacAddress.Parse("02:00:00:00:00:0a");
    private static readonly MacAddress HostB = MacAddress.Parse("02:00:00:00:00:0b");
    private static readonly MacAddress VtepMac = MacAddress.Parse("52:54:00:12:34:56");
    private static readonly MacAddress NextHopMac = MacAddress.Parse("52:54:00:ab:cd:ef");

    private readonly VxlanEncapsulator _encapsulator = new(VtepMac, 0x0A000001);
    private readonly Vni _vni = new(5001);
    private byte[] _inner = [];
    private byte[] _buffer = [];
    private byte[] _encapsulated = [];
    private byte[] _headroom = [];

    /// <summary>Inner Ethernet frame length: a small packet and a full 1450-byte-MTU frame (1450 + 14).</summary>
    [Params(64, 1464)]
    public int FrameLength { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _inner = new byte[FrameLength];
        int udpLength = FrameLength - 14 - 20;
        EthernetFrame.WriteHeader(_inner, HostB, HostA, EtherType.Ipv4);
        Ipv4Packet.WriteHeader(_inner.AsSpan(14), 0xC0A80A01, 0xC0A80A02, IpProtocol.Udp, (ushort)(20 + udpLength), 1, 64);
        UdpDatagram.WriteHeader(_inner.AsSpan(34), 40000, 46001, (ushort)udpLength);
        UdpDatagram.WriteChecksum(_inner.AsSpan(34, udpLength), 0xC0A80A01, 0xC0A80A02);

        _buffer = new byte[VxlanEncapsulator.OverheadLength + FrameLength];
        _encapsulated = new byte[_buffer.Length];
        if (!_encapsulator.TryEncapsulate(_inner, _vni, NextHopMac, 0x0A000002, 0, _encapsulated, out _, out _))
        {
            throw new InvalidOperationException("setup frame did not encapsulate");
        }

        _headroom = _encapsulated.ToArray();
    }

    [Benchmark(Description = "parse Ethernet+IPv4 (checksum verified)")]
    public int ParseEthernetIpv4()
    {
        if (EthernetFrame.TryParse(_inner, out var ethernet, out _)
            && ethernet.EtherType == EtherType.Ipv4
            && Ipv4Packet.TryParse(ethernet.Payload, out var ipv4, out _))
        {
            return ipv4.Protocol + (int)ipv4.Destination;
        }

        return -1;
    }

    [Benchmark(Description = "encapsulate (copy into reused buffer)")]
    public int Encapsulate()
    {
        _encapsulator.TryEncapsulate(_inner, _vni, NextHopMac, 0x0A000002, 7, _buffer, out int written, out _);
        return written;
    }

    [Benchmark(Description = "encapsulate (inner already in headroom)")]
    public int EncapsulateInHeadroom()
    {
        _encapsulator.TryEncapsulate(_headroom.AsSpan(VxlanEncapsulator.OverheadLength), _vni, NextHopMac, 0x0A000002, 7, _headroom, out int written, out _);
        return written;
    }

    [Benchmark(Description = "decapsulate VTEP socket payload")]
    public int DecapsulateUdpPayload()
    {
        VxlanDecapsulator.TryDecapsulate(_encapsulated.AsSpan(42), out var vni, out var inner, out _);
        return (int)vni.Value + inner.Length;
    }

    [Benchmark(Description = "decapsulate full outer frame")]
    public int DecapsulateFrame()
    {
        VxlanDecapsulator.TryDecapsulateFrame(_encapsulated, out var packet, out _);
        return (int)packet.Vni.Value + packet.InnerFrame.Length;
    }
}
