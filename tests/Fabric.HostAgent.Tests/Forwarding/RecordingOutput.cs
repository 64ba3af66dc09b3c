using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>A frame the data plane injected into a local port, with the offloads it left to the kernel.</summary>
internal sealed record SentFrame(int Port, byte[] Frame, VirtioNetHeader Offload = default)
{
    public bool IsTagged => BinaryPrimitives.ReadUInt16BigEndian(Frame.AsSpan(12)) == EtherType.Vlan;

    public ushort Vid => IsTagged ? new VlanTag(BinaryPrimitives.ReadUInt16BigEndian(Frame.AsSpan(14))).Vid : (ushort)0;

    /// <summary>The frame with its 802.1Q tag removed, if it had one.</summary>
    public byte[] Untagged()
    {
        if (!IsTagged)
        {
            return Frame;
        }

        var untagged = new byte[Frame.Length - VlanTagging.TagLength];
        Assert.True(VlanTagging.TryPop(Frame, untagged, out _, out _, out var reason), reason.ToString());
        return untagged;
    }
}

/// <summary>An outer IPv4 packet the data plane sent to a VTEP, decoded by the Wire codecs.</summary>
internal sealed record SentDatagram(
    RemoteVtep Vtep,
    uint OuterSource,
    uint OuterDestination,
    ushort SourcePort,
    ushort DestinationPort,
    bool DontFragment,
    uint Vni,
    byte[] Inner);

/// <summary>One UDP GSO send to a VTEP: the bucket (source port) and the VXLAN datagrams the kernel would cut it into.</summary>
internal sealed record SentTrain(RemoteVtep Vtep, int Bucket, int DatagramLength, byte[][] Datagrams);

/// <summary>
/// An in-memory <see cref="IDataPlaneOutput"/>: records copies of what was sent (off the hot path, so
/// allocating is fine) or, with <see cref="Recording"/> off, only counts, so it allocates nothing.
/// </summary>
internal sealed class RecordingOutput(ushort vxlanPort = VxlanHeader.DefaultPort) : IDataPlaneOutput
{
    private readonly List<SentFrame> _frames = [];
    private readonly List<SentDatagram> _datagrams = [];

    public bool Recording { get; set; } = true;

    /// <summary>What <see cref="SendToPort"/> and <see cref="SendToVtep"/> answer (false: the kernel refused).</summary>
    public bool Accept { get; set; } = true;

    public long PortSends { get; private set; }

    public long VtepSends { get; private set; }

    public IReadOnlyList<SentFrame> Frames => _frames;

    /// <summary>Source port buckets that take UDP GSO sends (<see cref="IDataPlaneOutput.CanSendSegmented"/>); none by default.</summary>
    public Func<int, bool> SegmentedBuckets { get; set; } = _ => false;

    /// <summary>UDP GSO sends, cut as the kernel would cut them (every datagram but the last of DatagramLength bytes).</summary>
    public List<SentTrain> Trains { get; } = [];

    public bool CanSendSegmented(int bucket) => SegmentedBuckets(bucket);

    public bool SendSegmentedToVtep(RemoteVtep vtep, int bucket, ReadOnlySpan<byte> datagrams, int datagramLength)
    {
        VtepSends++;
        if (Recording)
        {
            var cut = new List<byte[]>();
            for (int offset = 0; offset < datagrams.Length; offset += datagramLength)
            {
                cut.Add(datagrams.Slice(offset, Math.Min(datagramLength, datagrams.Length - offset)).ToArray());
            }

            Trains.Add(new SentTrain(vtep, bucket, datagramLength, [.. cut]));
        }

        return Accept;
    }

    public IReadOnlyList<SentDatagram> Datagrams => _datagrams;

    public IEnumerable<int> PortsReached => _frames.Select(f => f.Port);

    public void Clear()
    {
        _frames.Clear();
        _datagrams.Clear();
        Trains.Clear();
    }

    /// <summary>Ports that take frames with offloads left undone (an AF_PACKET backend); none by default, as with pcap.</summary>
    public HashSet<int> OffloadPorts { get; } = [];

    public bool PortCarriesOffloads(int port) => OffloadPorts.Contains(port);

    public bool SendToPort(int port, ReadOnlySpan<byte> frame, in VirtioNetHeader offload)
    {
        PortSends++;
        if (offload.HasWork && !OffloadPorts.Contains(port))
        {
            Assert.Fail($"port {port} takes finished frames only, but got {offload}");
        }
        if (Recording)
        {
            _frames.Add(new SentFrame(port, frame.ToArray(), offload));
        }

        return Accept;
    }

    /// <summary>Every outer IPv4 packet sent, as it was (VXLAN and, for mirror sessions, ERSPAN over GRE), with its destination (host order).</summary>
    public List<(uint Destination, byte[] Packet)> RawPackets { get; } = [];

    public bool SendToVtep(RemoteVtep vtep, ReadOnlySpan<byte> ipv4Packet)
    {
        VtepSends++;
        if (Recording)
        {
            RawPackets.Add((vtep.Address, ipv4Packet.ToArray()));
            if (ipv4Packet[9] == IpProtocol.Udp)
            {
                _datagrams.Add(Decode(vtep, ipv4Packet, vxlanPort));
            }
        }

        return Accept;
    }

    /// <summary>
    /// Decodes with the full validating decapsulator (IPv4 header checksum, UDP length, VXLAN port
    /// and flags): the kernel adds only the outer Ethernet header, so a dummy one is put in front.
    /// </summary>
    private static SentDatagram Decode(RemoteVtep vtep, ReadOnlySpan<byte> ipv4Packet, ushort vxlanPort)
    {
        var frame = new byte[EthernetFrame.HeaderLength + ipv4Packet.Length];
        EthernetFrame.WriteHeader(frame, MacAddress.Broadcast, MacAddress.Zero, EtherType.Ipv4);
        ipv4Packet.CopyTo(frame.AsSpan(EthernetFrame.HeaderLength));
        Assert.True(VxlanDecapsulator.TryDecapsulateFrame(frame, out var packet, out var reason, vxlanPort), $"the datagram sent to the VTEP does not decode: {reason}");
        Assert.True(Ipv4Packet.TryParse(ipv4Packet, out var ipv4, out reason), reason.ToString());
        return new SentDatagram(
            vtep,
            packet.OuterSource,
            packet.OuterDestination,
            packet.SourcePort,
            packet.DestinationPort,
            ipv4.DontFragment,
            packet.Vni.Value,
            packet.InnerFrame.ToArray());
    }
}
