using System.Buffers.Binary;
using System.Collections.Frozen;
using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Ports;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Wire.TestFrames;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>
/// One host's data plane with a hand-built snapshot and an in-memory output:
/// <code>
/// port 0, 1, 2  access, VNI A (5001)
/// port 3, 5     access, VNI B (5002)
/// port 4        trunk: VID 10 → A, VID 20 → B, untagged → native VNI (5003)
/// port 6        access, native VNI (5003)
/// port 7        trunk: VID 10 → A, no native VLAN
/// port 8        access, no port group (no VNI)
/// VNI A: flood to 10.0.0.2 and 10.0.0.3; RemoteA is behind 10.0.0.2
/// VNI B: flood to 10.0.0.4; RemoteB is behind 10.0.0.4
/// native: flood to 10.0.0.3
/// </code>
/// </summary>
internal sealed class ForwardingLab
{
    public const uint VniA = 5001;
    public const uint VniB = 5002;
    public const uint VniNative = 5003;
    public const ushort VidA = 10;
    public const ushort VidB = 20;
    public const int PortCount = 9;
    public const int TrunkPort = 4;
    public const int NativeAccessPort = 6;
    public const int TrunkWithoutNative = 7;
    public const int PortWithoutSegment = 8;

    public static readonly uint Self = Ipv4Address.Parse("10.0.0.1");
    public static readonly uint Peer2 = Ipv4Address.Parse("10.0.0.2");
    public static readonly uint Peer3 = Ipv4Address.Parse("10.0.0.3");
    public static readonly uint PeerB = Ipv4Address.Parse("10.0.0.4");
    public static readonly uint Stranger = Ipv4Address.Parse("10.0.0.99");
    public static readonly MacAddress RemoteA = Mac(0xA0002);
    public static readonly MacAddress RemoteB = Mac(0xB0004);

    public static readonly int[] PortsOfA = [0, 1, 2, TrunkPort, TrunkWithoutNative];
    public static readonly int[] PortsOfB = [3, TrunkPort, 5];
    public static readonly int[] PortsOfNative = [TrunkPort, NativeAccessPort];

    private readonly byte[] _slot = new byte[FrameBatch.Headroom + FrameBatch.GsoMaxFrameLength];
    private readonly Dictionary<uint, RemoteVtep> _vteps = [];

    /// <param name="macLimit">Every port's MAC limit.</param>
    /// <param name="vxlanPort">The VXLAN UDP port.</param>
    /// <param name="allowForgedTransmits">
    /// Every port's forged-transmits policy. Most tests send from many MACs on one port, so the lab
    /// allows it unless a test is about port security (the port group default rejects).
    /// </param>
    /// <param name="promiscuous">Ports in promiscuous mode.</param>
    /// <param name="reservedGroupForwardMask">Every segment's opt-in mask for 01-80-C2-00-00-0X.</param>
    public ForwardingLab(int macLimit = 64, ushort vxlanPort = VxlanHeader.DefaultPort, bool allowForgedTransmits = true, int[]? promiscuous = null, ushort reservedGroupForwardMask = 0)
    {
        MacLimit = macLimit;
        VxlanPort = vxlanPort;
        AllowForgedTransmits = allowForgedTransmits;
        Promiscuous = promiscuous ?? [];
        ReservedGroupForwardMask = reservedGroupForwardMask;
        Counters = new DataPlaneCounters(PortCount);
        Macs = new LocalMacTable(PortCount);
        Output = new RecordingOutput(vxlanPort);
        DataPlane = new DataPlane(BuildSnapshot(swapPorts1And3: false), Macs, Counters, Output, Self, vxlanPort);
    }

    public int MacLimit { get; }

    public bool AllowForgedTransmits { get; }

    public int[] Promiscuous { get; }

    public ushort ReservedGroupForwardMask { get; }

    /// <summary>MACs configured on ports (port index → MAC), applied by <see cref="BuildSnapshot"/>.</summary>
    public Dictionary<int, MacAddress> ConfiguredMacs { get; } = [];

    public ushort VxlanPort { get; }

    public DataPlaneCounters Counters { get; }

    public LocalMacTable Macs { get; }

    public RecordingOutput Output { get; }

    public DataPlane DataPlane { get; }

    public ForwardingScratch Scratch { get; } = new();

    public ForwardingSnapshot Snapshot => DataPlane.Snapshot;

    public TrafficCounters Total => Counters.Total;

    public TrafficCounters SegmentCounters(uint vni) => Counters.ForVni(vni);

    public static MacAddress Mac(int n) => new(0x0200_0000_0000UL | (uint)n);

    public RemoteVtep Vtep(uint address)
    {
        if (!_vteps.TryGetValue(address, out var vtep))
        {
            vtep = new RemoteVtep(address, VxlanPort);
            _vteps[address] = vtep;
        }

        return vtep;
    }

    /// <summary>
    /// The snapshot above; <paramref name="swapPorts1And3"/> is the same host after an operator moved
    /// port 1 to VNI B and port 3 to VNI A.
    /// </summary>
    public ForwardingSnapshot BuildSnapshot(bool swapPorts1And3)
    {
        uint one = swapPorts1And3 ? VniB : VniA;
        uint three = swapPorts1And3 ? VniA : VniB;
        PortForwarding[] ports =
        [
            Access(0, VniA),
            Access(1, one),
            Access(2, VniA),
            Access(3, three),
            new PortForwarding
            {
                Index = TrunkPort,
                Name = "trunk",
                Trunk = true,
                VniByVid = new Dictionary<ushort, uint> { [VidA] = VniA, [VidB] = VniB }.ToFrozenDictionary(),
                VidByVni = new Dictionary<uint, ushort> { [VniA] = VidA, [VniB] = VidB }.ToFrozenDictionary(),
                NativeVni = VniNative,
                MacLimit = MacLimit,
                AllowForgedTransmits = AllowForgedTransmits,
                AllowPromiscuous = Promiscuous.Contains(TrunkPort),
                EffectiveMac = ConfiguredMacs.TryGetValue(TrunkPort, out var trunkMac) ? trunkMac.Value : 0,
            },
            Access(5, VniB),
            Access(NativeAccessPort, VniNative),
            new PortForwarding
            {
                Index = TrunkWithoutNative,
                Name = "trunk-no-native",
                Trunk = true,
                VniByVid = new Dictionary<ushort, uint> { [VidA] = VniA }.ToFrozenDictionary(),
                VidByVni = new Dictionary<uint, ushort> { [VniA] = VidA }.ToFrozenDictionary(),
                NativeVni = 0,
                MacLimit = MacLimit,
                AllowForgedTransmits = AllowForgedTransmits,
                AllowPromiscuous = Promiscuous.Contains(TrunkWithoutNative),
            },
            Access(PortWithoutSegment, 0),
        ];

        int[] LocalPorts(uint vni) => ports
            .Where(p => p.Trunk ? p.NativeVni == vni || p.VniByVid.Values.Contains(vni) : p.AccessVni == vni)
            .Select(p => p.Index)
            .ToArray();

        SegmentForwarding Segment(uint vni, uint[] flood, params (MacAddress Mac, uint Vtep)[] remote) => new()
        {
            Vni = vni,
            LocalPorts = LocalPorts(vni),
            FloodList = flood.Select(Vtep).ToArray(),
            Vteps = flood.Concat(remote.Select(r => r.Vtep)).ToFrozenSet(),
            RemoteMacs = remote.ToFrozenDictionary(r => r.Mac.Value, r => Vtep(r.Vtep)),
            PromiscuousPorts = [.. LocalPorts(vni).Where(Promiscuous.Contains)],
            ReservedGroupForwardMask = ReservedGroupForwardMask,
            Counters = Counters.ForVni(vni),
        };

        return new ForwardingSnapshot
        {
            Ports = ports,
            Segments = new Dictionary<uint, SegmentForwarding>
            {
                [VniA] = Segment(VniA, [Peer2, Peer3], (RemoteA, Peer2)),
                [VniB] = Segment(VniB, [PeerB], (RemoteB, PeerB)),
                [VniNative] = Segment(VniNative, [Peer3]),
            }.ToFrozenDictionary(),
            Generation = swapPorts1And3 ? 2 : 1,
        };
    }

    /// <summary>Publishes the current snapshot again with <paramref name="ip"/> bound to <paramref name="mac"/> in <paramref name="vni"/> (ARP suppression).</summary>
    public void BindArp(uint vni, uint ip, MacAddress mac)
    {
        var current = Snapshot;
        var segments = current.Segments.ToDictionary(kv => kv.Key, kv =>
        {
            var s = kv.Value;
            if (kv.Key != vni)
            {
                return s;
            }

            var bindings = s.ArpBindings.ToDictionary(b => b.Key, b => b.Value);
            bindings[ip] = mac.Value;
            return new SegmentForwarding
            {
                Vni = s.Vni,
                LocalPorts = s.LocalPorts,
                FloodList = s.FloodList,
                Vteps = s.Vteps,
                RemoteMacs = s.RemoteMacs,
                ArpBindings = bindings.ToFrozenDictionary(),
                PromiscuousPorts = s.PromiscuousPorts,
                ReservedGroupForwardMask = s.ReservedGroupForwardMask,
                Counters = s.Counters,
            };
        });
        DataPlane.Publish(new ForwardingSnapshot { Ports = current.Ports, Segments = segments.ToFrozenDictionary(), Generation = current.Generation });
    }

    private PortForwarding Access(int index, uint vni) => new()
    {
        Index = index,
        Name = $"port{index}",
        Trunk = false,
        AccessVni = vni,
        MacLimit = MacLimit,
        AllowForgedTransmits = AllowForgedTransmits,
        AllowPromiscuous = Promiscuous.Contains(index),
        EffectiveMac = ConfiguredMacs.TryGetValue(index, out var mac) ? mac.Value : 0,
    };

    /// <summary>Publishes the snapshot again after <see cref="ConfiguredMacs"/> changed.</summary>
    public void Republish() => DataPlane.Publish(BuildSnapshot(swapPorts1And3: false));

    /// <summary>Puts <paramref name="mac"/> in the local table as if learned on <paramref name="port"/>, without counting a frame.</summary>
    public void Seed(int port, uint vni, MacAddress mac)
    {
        Assert.True(Macs.Learn(vni, mac.Value, port, int.MaxValue, Environment.TickCount64));
        while (Macs.TryTakeLearned(out _))
        {
        }
    }

    /// <summary>Captures <paramref name="frame"/> on <paramref name="port"/>: copied into a slot after the headroom, with the offloads the VM left undone.</summary>
    public void FromPort(int port, ReadOnlySpan<byte> frame, VirtioNetHeader offload = default)
    {
        _slot.AsSpan().Clear();
        frame.CopyTo(_slot.AsSpan(FrameBatch.Headroom));
        DataPlane.FromPort(port, _slot, frame.Length, Scratch, offload);
    }

    /// <summary>Receives a UDP payload (VXLAN header and inner frame) from <paramref name="outerSource"/>.</summary>
    public void FromVtep(uint outerSource, ReadOnlySpan<byte> datagram)
    {
        _slot.AsSpan().Clear();
        datagram.CopyTo(_slot.AsSpan(FrameBatch.Headroom));
        DataPlane.FromVtep(outerSource, _slot, datagram.Length, Scratch);
    }

    /// <summary>The UDP payload a remote VTEP sends for <paramref name="inner"/> in <paramref name="vni"/>.</summary>
    public static byte[] Datagram(uint vni, byte[] inner)
    {
        byte[] outer = Encapsulate(inner, vni);
        return outer.AsSpan(EthernetFrame.HeaderLength + Ipv4Packet.MinHeaderLength + UdpDatagram.HeaderLength).ToArray();
    }

    /// <summary>An untagged (or 802.1Q-tagged) IPv4/UDP frame; <paramref name="flow"/> varies the UDP source port.</summary>
    public static byte[] Frame(MacAddress destination, MacAddress source, ushort? vid = null, ushort flow = 40000)
        => UdpFrame(destination, source, 0xC0A80A01, 0xC0A80A02, flow, 80, tag: vid is { } v ? new VlanTag(v) : null);

    public static byte[] Broadcast(MacAddress source, ushort? vid = null) => Frame(MacAddress.Broadcast, source, vid);

    /// <summary>Two stacked tags: <paramref name="outerTpid"/> then 0x8100, as a VLAN-hopping sender would send.</summary>
    public static byte[] DoubleTagged(MacAddress destination, MacAddress source, ushort outerTpid, ushort outerVid, ushort innerVid)
    {
        byte[] untagged = Frame(destination, source);
        var frame = new byte[untagged.Length + 8];
        untagged.AsSpan(0, 12).CopyTo(frame);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), outerTpid);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), outerVid);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), EtherType.Vlan);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(18), innerVid);
        untagged.AsSpan(12).CopyTo(frame.AsSpan(20));
        return frame;
    }

    /// <summary>
    /// The VNI a frame injected into <paramref name="port"/> lands in, judged from the port's current
    /// VLAN mapping and the frame's tag; null when the port would not accept it at all.
    /// </summary>
    public uint? VniOfDelivery(SentFrame sent)
    {
        var port = Snapshot.Ports[sent.Port];
        if (!port.Trunk)
        {
            return sent.IsTagged ? null : port.AccessVni;
        }

        if (!sent.IsTagged)
        {
            return port.NativeVni == 0 ? null : port.NativeVni;
        }

        return port.VniByVid.TryGetValue(sent.Vid, out uint vni) ? vni : null;
    }

    /// <summary>Every drop reason counted in total, for asserting "exactly this one".</summary>
    public Dictionary<DataPlaneDrop, long> TotalDrops()
        => Enum.GetValues<DataPlaneDrop>().Where(r => Total.DropsOf(r) > 0).ToDictionary(r => r, r => Total.DropsOf(r));
}
