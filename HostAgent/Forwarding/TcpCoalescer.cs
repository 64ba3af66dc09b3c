using System.Buffers.Binary;
using Fabric.HostAgent.Ports;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Forwarding;

/// <summary>
/// Receive coalescing in user space, as the kernel's GRO does (<c>tcp_gro_receive</c>): consecutive
/// TCP segments of one flow, decapsulated from the underlay for the same local port, are joined into
/// one super-frame the VM takes in one go, with a <see cref="VirtioNetHeader"/> telling its stack the
/// segment size (so it acknowledges and re-segments as for any GRO packet). Only plain data segments
/// join: same MACs, addresses, ports, ACK, IP header and TCP options; the next sequence number; no
/// SYN, FIN, RST, URG, CWR or ECE; each segment's checksums verified first (a bad one goes on alone,
/// for the VM to drop). A segment shorter than the first, or with PSH, ends the super-frame, which is
/// also handed over at the end of every received batch. One per receive thread.
/// </summary>
internal sealed class TcpCoalescer
{
    /// <summary>Most bytes of IP packet in one super-frame (the IPv4 total length field).</summary>
    public const int MaxIpLength = 65535;

    private const byte Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10, Urg = 0x20, Ece = 0x40, Cwr = 0x80;

    private readonly byte[] _buffer = new byte[FrameBatch.Headroom + FrameBatch.GsoMaxFrameLength];
    private int _length;
    private bool _ipv6;
    private int _ipHeader;
    private int _headers;
    private int _mss;
    private uint _nextSequence;
    private bool _closed;

    /// <summary>Whether a super-frame is being built.</summary>
    public bool IsActive { get; private set; }

    /// <summary>How many segments the current super-frame holds.</summary>
    public int Segments { get; private set; }

    /// <summary>The local port the super-frame goes to.</summary>
    public int Port { get; private set; }

    /// <summary>The VNI it was received in.</summary>
    public uint Vni { get; private set; }

    /// <summary>Its segment's forwarding state (for counting).</summary>
    public SegmentForwarding? Segment { get; private set; }

    /// <summary>
    /// Adds <paramref name="frame"/> (untagged Ethernet) for local port <paramref name="port"/>: starts
    /// a super-frame when none is being built and the frame is a plain TCP data segment, or appends
    /// it to the current one when it is that flow's next segment. False when it cannot (hand over the
    /// current one first, then try again, or deliver the frame on its own).
    /// </summary>
    public bool TryAdd(ReadOnlySpan<byte> frame, int port, uint vni, SegmentForwarding segment)
    {
        if (!TryParse(frame, out bool ipv6, out int ipHeader, out int headers, out uint sequence))
        {
            return false;
        }

        int payload = frame.Length - headers;
        if (!IsActive)
        {
            frame.CopyTo(_buffer.AsSpan(FrameBatch.Headroom));
            _length = frame.Length;
            _ipv6 = ipv6;
            _ipHeader = ipHeader;
            _headers = headers;
            _mss = payload;
            _nextSequence = sequence + (uint)payload;
            _closed = (frame[EthernetFrame.HeaderLength + ipHeader + 13] & Psh) != 0;
            Segments = 1;
            Port = port;
            Vni = vni;
            Segment = segment;
            IsActive = true;
            return true;
        }

        var current = _buffer.AsSpan(FrameBatch.Headroom, _length);
        if (_closed || port != Port || vni != Vni || ipv6 != _ipv6 || headers != _headers || sequence != _nextSequence
            || payload > _mss || _length + payload - EthernetFrame.HeaderLength > MaxIpLength
            || !SameFlow(current, frame, ipv6, ipHeader, headers))
        {
            return false;
        }

        frame.Slice(headers).CopyTo(_buffer.AsSpan(FrameBatch.Headroom + _length));
        _length += payload;
        _nextSequence += (uint)payload;
        Segments++;
        byte flags = frame[EthernetFrame.HeaderLength + ipHeader + 13];
        if ((flags & Psh) != 0)
        {
            current[EthernetFrame.HeaderLength + ipHeader + 13] |= Psh;
        }

        _closed = payload < _mss || (flags & Psh) != 0;
        return true;
    }

    /// <summary>
    /// Ends the super-frame: its headers now describe it whole (lengths, IPv4 checksum, TCP checksum
    /// left partial for the VM's stack) and <paramref name="offload"/> says how it was cut. A single
    /// segment is handed over as it came, with no offload. Call only while <see cref="IsActive"/>.
    /// </summary>
    public Span<byte> Take(out VirtioNetHeader offload)
    {
        IsActive = false;
        var frame = _buffer.AsSpan(FrameBatch.Headroom, _length);
        if (Segments == 1)
        {
            offload = VirtioNetHeader.None;
            return frame;
        }

        var ip = frame.Slice(EthernetFrame.HeaderLength);
        int l4Length = ip.Length - _ipHeader;
        if (_ipv6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), (ushort)l4Length);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)ip.Length);
            Ipv4Packet.UpdateChecksum(ip.Slice(0, _ipHeader));
        }

        // CHECKSUM_PARTIAL: the field holds the pseudo-header sum; the stack that takes the frame
        // treats it as verified (each segment was) or completes it if it forwards the frame on.
        ushort pseudo = InternetChecksum.Fold(Offloads.PseudoHeaderSum(ip, _ipv6, IpProtocol.Tcp, l4Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(_ipHeader + 16), pseudo);
        offload = new VirtioNetHeader(
            VirtioNetHeader.FlagNeedsChecksum,
            _ipv6 ? VirtioNetHeader.GsoTcpV6 : VirtioNetHeader.GsoTcpV4,
            (ushort)_headers,
            (ushort)_mss,
            (ushort)(EthernetFrame.HeaderLength + _ipHeader),
            16);
        return frame;
    }

    /// <summary>A plain TCP data segment whose checksums verify: its header sizes and sequence number.</summary>
    private static bool TryParse(ReadOnlySpan<byte> frame, out bool ipv6, out int ipHeader, out int headers, out uint sequence)
    {
        ipv6 = false;
        ipHeader = 0;
        headers = 0;
        sequence = 0;
        if (frame.Length < EthernetFrame.HeaderLength + 40 + 20)
        {
            return false;
        }

        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(EthernetFrame.EtherTypeOffset));
        var ip = frame.Slice(EthernetFrame.HeaderLength);
        if (etherType == EtherType.Ipv4)
        {
            // No options, not a fragment, the whole frame is the packet (no Ethernet padding).
            if (ip[0] != 0x45 || ip[9] != IpProtocol.Tcp || (BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(6)) & 0x3FFF) != 0
                || BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(2)) != ip.Length || !InternetChecksum.Verify(ip.Slice(0, 20)))
            {
                return false;
            }

            ipHeader = 20;
        }
        else if (etherType == EtherType.Ipv6)
        {
            if (ip[0] >> 4 != 6 || ip[6] != IpProtocol.Tcp || BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(4)) != ip.Length - 40)
            {
                return false;
            }

            ipv6 = true;
            ipHeader = 40;
        }
        else
        {
            return false;
        }

        var tcp = ip.Slice(ipHeader);
        int tcpHeader = (tcp[12] >> 4) * 4;
        byte flags = tcp[13];
        headers = EthernetFrame.HeaderLength + ipHeader + tcpHeader;
        if (tcpHeader < 20 || headers >= frame.Length || (flags & (Fin | Syn | Rst | Urg | Ece | Cwr)) != 0 || (flags & Ack) == 0)
        {
            return false;
        }

        ulong sum = InternetChecksum.Add(Offloads.PseudoHeaderSum(ip, ipv6, IpProtocol.Tcp, tcp.Length), tcp);
        if (InternetChecksum.Fold(sum) != 0xFFFF)
        {
            return false;
        }

        sequence = BinaryPrimitives.ReadUInt32BigEndian(tcp.Slice(4));
        return true;
    }

    /// <summary>
    /// Same Ethernet header, same IP header but for the fields that differ per segment (IPv4 total
    /// length, identification and checksum; IPv6 payload length), same TCP header and options but for
    /// sequence number, PSH, window and checksum.
    /// </summary>
    private static bool SameFlow(ReadOnlySpan<byte> first, ReadOnlySpan<byte> next, bool ipv6, int ipHeader, int headers)
    {
        if (!first.Slice(0, EthernetFrame.HeaderLength).SequenceEqual(next.Slice(0, EthernetFrame.HeaderLength)))
        {
            return false;
        }

        var a = first.Slice(EthernetFrame.HeaderLength);
        var b = next.Slice(EthernetFrame.HeaderLength);
        bool sameIp = ipv6
            ? a.Slice(0, 4).SequenceEqual(b.Slice(0, 4)) && a.Slice(6, 34).SequenceEqual(b.Slice(6, 34))
            : a[1] == b[1] && a.Slice(6, 4).SequenceEqual(b.Slice(6, 4)) && a.Slice(12, 8).SequenceEqual(b.Slice(12, 8));
        if (!sameIp)
        {
            return false;
        }

        var ta = a.Slice(ipHeader);
        var tb = b.Slice(ipHeader);
        int tcpHeader = headers - EthernetFrame.HeaderLength - ipHeader;
        return ta.Slice(0, 4).SequenceEqual(tb.Slice(0, 4))                          // ports
            && ta.Slice(8, 5).SequenceEqual(tb.Slice(8, 5))                          // ACK number, data offset
            && (ta[13] & ~Psh) == (tb[13] & ~Psh)                                    // flags but PSH
            && ta.Slice(18, tcpHeader - 18).SequenceEqual(tb.Slice(18, tcpHeader - 18)); // urgent pointer, options
    }
}
