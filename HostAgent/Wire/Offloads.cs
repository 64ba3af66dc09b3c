using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.HostAgent.Wire;

/// <summary>
/// Finishing in software what a VM left to its NIC (its <see cref="VirtioNetHeader"/>): the partial
/// L4 checksum of a frame (<see cref="TryCompleteChecksum"/>), and the segmentation of a GSO
/// super-frame into wire-sized frames (<see cref="GsoSegmenter"/>), as a NIC's TSO/USO or the
/// kernel's GSO would. Frames are untagged Ethernet (the pipeline pops tags first).
/// </summary>
[SkipLocalsInit]
internal static class Offloads
{
    /// <summary>
    /// Completes a partial checksum in place: the one's complement sum from
    /// <see cref="VirtioNetHeader.ChecksumStart"/> to the end of <paramref name="frame"/> (whose
    /// checksum field holds the pseudo-header sum, as CHECKSUM_PARTIAL leaves it) is complemented and
    /// written at start + offset (RFC 1071); a UDP checksum of 0 is sent as 0xFFFF (RFC 768).
    /// False, with <see cref="DropReason.BadOffload"/>, when the positions are outside the frame.
    /// </summary>
    public static bool TryCompleteChecksum(Span<byte> frame, in VirtioNetHeader offload, out DropReason reason)
    {
        int start = offload.ChecksumStart;
        int field = start + offload.ChecksumOffset;
        if (start >= frame.Length || field + 2 > frame.Length || offload.ChecksumOffset < 0)
        {
            reason = DropReason.BadOffload;
            return false;
        }

        ushort checksum = (ushort)~InternetChecksum.Fold(InternetChecksum.Add(0, frame.Slice(start)));
        if (checksum == 0 && offload.ChecksumOffset == 6)
        {
            checksum = 0xFFFF; // UDP: 0 means "no checksum"
        }

        BinaryPrimitives.WriteUInt16BigEndian(frame.Slice(field), checksum);
        reason = DropReason.None;
        return true;
    }

    /// <summary>The L4 pseudo-header sum (RFC 793 §3.1, RFC 768, RFC 8200 §8.1) of an IPv4 or IPv6 packet at <paramref name="ip"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong PseudoHeaderSum(ReadOnlySpan<byte> ip, bool ipv6, byte protocol, int l4Length)
    {
        ulong sum = ipv6
            ? InternetChecksum.Add(0, ip.Slice(8, 32))
            : InternetChecksum.Add(0, ip.Slice(12, 8));
        return sum + protocol + (uint)l4Length;
    }
}

/// <summary>
/// Cuts a GSO super-frame into frames of at most <c>maxFrameLength</c> bytes, each with complete
/// IPv4/IPv6 and TCP/UDP headers and checksums, as a NIC's TSO (TCP, RFC 7323-agnostic: options are
/// copied) or USO (UDP, one datagram per <see cref="VirtioNetHeader.GsoSize"/> bytes) would. TCP
/// segments may be cut smaller than the VM's <see cref="VirtioNetHeader.GsoSize"/> to fit the
/// segment's MTU (any MSS is valid for TCP); UDP datagrams cannot be, and are refused
/// (<see cref="DropReason.SegmentTooLong"/>). Per segment: IPv4 total length, identification + i and
/// header checksum; IPv6 payload length; TCP sequence + offset, FIN and PSH on the last segment
/// only, CWR on the first only; UDP length; L4 checksum over the pseudo-header. Allocates nothing.
/// </summary>
[SkipLocalsInit]
internal ref struct GsoSegmenter
{
    private const byte TcpFin = 0x01;
    private const byte TcpPsh = 0x08;
    private const byte TcpCwr = 0x80;

    private readonly ReadOnlySpan<byte> _frame;
    private readonly bool _ipv6;
    private readonly bool _tcp;
    private readonly int _ipHeaderLength;
    private readonly int _headers;
    private readonly int _payload;
    private readonly int _segmentSize;
    private readonly uint _sequence;
    private readonly ushort _identification;
    private int _index;

    private GsoSegmenter(ReadOnlySpan<byte> frame, bool ipv6, bool tcp, int ipHeaderLength, int headers, int payload, int segmentSize)
    {
        _frame = frame;
        _ipv6 = ipv6;
        _tcp = tcp;
        _ipHeaderLength = ipHeaderLength;
        _headers = headers;
        _payload = payload;
        _segmentSize = segmentSize;
        var ip = frame.Slice(EthernetFrame.HeaderLength);
        _sequence = tcp ? BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(ipHeaderLength + 4)) : 0;
        _identification = ipv6 ? (ushort)0 : BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(4));
        Count = (payload + segmentSize - 1) / segmentSize;
        _index = 0;
    }

    /// <summary>How many frames the super-frame is cut into.</summary>
    public int Count { get; }

    /// <summary>The payload bytes per segment (the last may carry fewer).</summary>
    public readonly int SegmentSize => _segmentSize;

    /// <summary>
    /// A segmenter for <paramref name="frame"/> (untagged Ethernet) under <paramref name="offload"/>,
    /// whose frames are at most <paramref name="maxFrameLength"/> bytes (the segment MTU + 14).
    /// </summary>
    public static bool TryCreate(ReadOnlySpan<byte> frame, in VirtioNetHeader offload, int maxFrameLength, out GsoSegmenter segmenter, out DropReason reason)
    {
        segmenter = default;
        byte kind = offload.GsoKind;
        bool tcp = kind is VirtioNetHeader.GsoTcpV4 or VirtioNetHeader.GsoTcpV6;
        if ((!tcp && kind != VirtioNetHeader.GsoUdpL4) || offload.GsoSize == 0 || frame.Length < EthernetFrame.HeaderLength + Ipv4Packet.MinHeaderLength)
        {
            reason = DropReason.BadOffload;
            return false;
        }

        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(EthernetFrame.EtherTypeOffset));
        var ip = frame.Slice(EthernetFrame.HeaderLength);
        bool ipv6;
        int ipHeaderLength;
        byte protocol;
        int ipEnd = frame.Length;
        if (etherType == EtherType.Ipv4 && ip[0] >> 4 == 4)
        {
            ipv6 = false;
            ipHeaderLength = (ip[0] & 0xF) * 4;
            protocol = ip[9];
            int total = BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(2));
            if (total != 0)
            {
                ipEnd = Math.Min(ipEnd, EthernetFrame.HeaderLength + total);
            }
        }
        else if (etherType == EtherType.Ipv6 && ip.Length >= 40 && ip[0] >> 4 == 6)
        {
            ipv6 = true;
            ipHeaderLength = 40;
            protocol = ip[6];
        }
        else
        {
            reason = DropReason.BadOffload;
            return false;
        }

        if (ipHeaderLength < Ipv4Packet.MinHeaderLength || protocol != (tcp ? IpProtocol.Tcp : IpProtocol.Udp) || ip.Length < ipHeaderLength + 8)
        {
            reason = DropReason.BadOffload;
            return false;
        }

        int l4Header = tcp ? (ip[ipHeaderLength + 12] >> 4) * 4 : UdpDatagram.HeaderLength;
        int headers = EthernetFrame.HeaderLength + ipHeaderLength + l4Header;
        if ((tcp && l4Header < 20) || headers > ipEnd)
        {
            reason = DropReason.BadOffload;
            return false;
        }

        int segmentSize = offload.GsoSize;
        if (headers + segmentSize > maxFrameLength)
        {
            if (!tcp)
            {
                reason = DropReason.SegmentTooLong;
                return false;
            }

            segmentSize = maxFrameLength - headers; // TSO may cut smaller than the VM asked
            if (segmentSize < 8)
            {
                reason = DropReason.SegmentTooLong;
                return false;
            }
        }

        segmenter = new GsoSegmenter(frame.Slice(0, ipEnd), ipv6, tcp, ipHeaderLength, headers, ipEnd - headers, segmentSize);
        reason = DropReason.None;
        return true;
    }

    /// <summary>Writes the next segment to <paramref name="destination"/>; false when all were written.</summary>
    public bool TryNext(Span<byte> destination, out int written)
    {
        if (_index >= Count)
        {
            written = 0;
            return false;
        }

        int offset = _index * _segmentSize;
        int size = Math.Min(_segmentSize, _payload - offset);
        written = _headers + size;
        _frame.Slice(0, _headers).CopyTo(destination);
        _frame.Slice(_headers + offset, size).CopyTo(destination.Slice(_headers));

        var ip = destination.Slice(EthernetFrame.HeaderLength, written - EthernetFrame.HeaderLength);
        int l4Length = ip.Length - _ipHeaderLength;
        var l4 = ip.Slice(_ipHeaderLength);
        byte protocol;
        if (_ipv6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), (ushort)l4Length);
            protocol = ip[6];
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)ip.Length);
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), (ushort)(_identification + _index));
            Ipv4Packet.UpdateChecksum(ip.Slice(0, _ipHeaderLength));
            protocol = ip[9];
        }

        int checksumField;
        if (_tcp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(l4.Slice(4), _sequence + (uint)offset);
            byte flags = l4[13];
            if (_index != Count - 1)
            {
                flags &= unchecked((byte)~(TcpFin | TcpPsh));
            }

            if (_index != 0)
            {
                flags &= unchecked((byte)~TcpCwr);
            }

            l4[13] = flags;
            checksumField = 16;
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(4), (ushort)l4Length);
            checksumField = 6;
        }

        l4[checksumField] = 0;
        l4[checksumField + 1] = 0;
        ulong sum = InternetChecksum.Add(Offloads.PseudoHeaderSum(ip, _ipv6, protocol, l4Length), l4);
        ushort checksum = (ushort)~InternetChecksum.Fold(sum);
        if (checksum == 0 && !_tcp)
        {
            checksum = 0xFFFF;
        }

        BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(checksumField), checksum);
        _index++;
        return true;
    }
}
