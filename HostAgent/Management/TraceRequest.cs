using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Fabric.Addressing;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Management;

/// <summary>
/// A frame to trace (<c>POST /v1/trace</c>, relayed from the silo's <c>POST /api/hosts/{id}/trace</c>):
/// the local port it enters on and either the whole frame in hex or a description the agent builds
/// it from (<see cref="TraceFrame"/>).
/// </summary>
/// <param name="Port">The ingress port: an attached interface of the agent.</param>
/// <param name="Hex">The whole Ethernet frame (no FCS), hex, 14..9232 bytes; instead of <paramref name="Frame"/>.</param>
/// <param name="Frame">A description of the frame.</param>
internal sealed record TraceRequest(string? Port, string? Hex, TraceFrame? Frame);

/// <summary>
/// A frame described by its headers. Ethernet II (IEEE 802.3 §3.2.6), an optional 802.1Q tag, then
/// an ARP packet (RFC 826), an IPv4 packet (RFC 791) with an ICMP echo request (RFC 792), a UDP
/// (RFC 768) or TCP SYN (RFC 9293) header with valid checksums, or only the EtherType; padded to
/// the 60-byte minimum.
/// </summary>
/// <param name="SrcMac">Source MAC, <c>xx:xx:xx:xx:xx:xx</c>.</param>
/// <param name="DstMac">Destination MAC.</param>
/// <param name="Vlan">An 802.1Q tag's VID, 0..4094 (0: priority-tagged); null for an untagged frame.</param>
/// <param name="EtherType"><c>ipv4</c>, <c>arp</c>, <c>ipv6</c> or a number (<c>0x88cc</c>, <c>35020</c>); defaults from <paramref name="Arp"/> or <paramref name="Ipv4"/>.</param>
/// <param name="Arp">The ARP packet, for EtherType arp.</param>
/// <param name="Ipv4">The IPv4 packet, for EtherType ipv4.</param>
internal sealed record TraceFrame(string? SrcMac, string? DstMac, int? Vlan, string? EtherType, TraceArp? Arp, TraceIpv4? Ipv4);

/// <summary>An ARP packet (RFC 826, Ethernet/IPv4).</summary>
/// <param name="Op"><c>request</c> (default) or <c>reply</c>.</param>
/// <param name="SenderIp">The sender's IPv4 address (0.0.0.0 for a probe).</param>
/// <param name="TargetIp">The target IPv4 address.</param>
/// <param name="SenderMac">Defaults to the frame's source MAC.</param>
/// <param name="TargetMac">Defaults to 00:00:00:00:00:00 for a request, the frame's destination for a reply.</param>
internal sealed record TraceArp(string? Op, string? SenderIp, string? TargetIp, string? SenderMac, string? TargetMac);

/// <summary>An IPv4 packet (RFC 791) without options.</summary>
/// <param name="Src">Source address.</param>
/// <param name="Dst">Destination address.</param>
/// <param name="Protocol"><c>icmp</c> (default: an echo request), <c>udp</c>, <c>tcp</c> (a SYN) or a protocol number 0..255.</param>
/// <param name="Ttl">Time to live, 0..255; default 64.</param>
/// <param name="SrcPort">UDP/TCP source port, 1..65535; default 49152.</param>
/// <param name="DstPort">UDP/TCP destination port, 1..65535; default 80.</param>
/// <param name="Length">The packet's total length in bytes (header included), 28..9216; default 84 (a default ping).</param>
/// <param name="Df">Don't fragment; default true.</param>
internal sealed record TraceIpv4(string? Src, string? Dst, string? Protocol, int? Ttl, int? SrcPort, int? DstPort, int? Length, bool? Df);

/// <summary>A field of a trace request that is wrong: answered 400 naming <see cref="Field"/> (a JSON path).</summary>
internal sealed class TraceRequestException(string field, string message) : Exception(message)
{
    /// <summary>The JSON path of the bad field, e.g. <c>frame.ipv4.dst</c>.</summary>
    public string Field { get; } = field;
}

/// <summary>Builds the frame a <see cref="TraceRequest"/> describes.</summary>
internal static class TraceFrameBuilder
{
    /// <summary>The largest frame a trace takes: a 9216-byte MTU, the Ethernet header and a tag.</summary>
    public const int MaxFrameLength = 9216 + EthernetFrame.TaggedHeaderLength;

    /// <summary>The frame, or <see cref="TraceRequestException"/> naming the first bad field.</summary>
    public static byte[] Build(TraceRequest request)
    {
        if (request.Hex is { } hex)
        {
            if (request.Frame is not null)
            {
                throw new TraceRequestException("hex", "give either hex or frame, not both.");
            }

            byte[] bytes;
            try
            {
                bytes = Convert.FromHexString(hex.Replace(":", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal));
            }
            catch (FormatException)
            {
                throw new TraceRequestException("hex", "hex must be an even number of hex digits.");
            }

            return bytes.Length is >= EthernetFrame.HeaderLength and <= MaxFrameLength
                ? bytes
                : throw new TraceRequestException("hex", $"a frame is {EthernetFrame.HeaderLength}..{MaxFrameLength} bytes; this is {bytes.Length}.");
        }

        var frame = request.Frame ?? throw new TraceRequestException("frame", "give frame (srcMac, dstMac, ...) or hex.");
        var src = Mac(frame.SrcMac, "frame.srcMac");
        var dst = Mac(frame.DstMac, "frame.dstMac");
        ushort etherType = EtherTypeOf(frame);
        var payload = etherType switch
        {
            Wire.EtherType.Arp => ArpPayload(frame.Arp ?? throw new TraceRequestException("frame.arp", "an ARP frame needs arp: {op, senderIp, targetIp}."), src, dst),
            Wire.EtherType.Ipv4 => Ipv4Payload(frame.Ipv4 ?? throw new TraceRequestException("frame.ipv4", "an IPv4 frame needs ipv4: {src, dst, protocol}.")),
            0x86DD => Ipv6Payload(),
            _ => [],
        };

        int header = frame.Vlan is null ? EthernetFrame.HeaderLength : EthernetFrame.TaggedHeaderLength;
        var bytesOut = new byte[Math.Max(60, header + payload.Length)];
        if (frame.Vlan is { } vid)
        {
            if (vid is < 0 or > 4094)
            {
                throw new TraceRequestException("frame.vlan", "a VID is 0..4094 (0: priority-tagged; IEEE 802.1Q).");
            }

            EthernetFrame.WriteTaggedHeader(bytesOut, dst, src, new VlanTag((ushort)vid), etherType);
        }
        else
        {
            EthernetFrame.WriteHeader(bytesOut, dst, src, etherType);
        }

        payload.CopyTo(bytesOut.AsSpan(header));
        return bytesOut;
    }

    private static ushort EtherTypeOf(TraceFrame frame)
    {
        string? text = frame.EtherType ?? (frame.Arp is not null ? "arp" : frame.Ipv4 is not null ? "ipv4" : null);
        return text?.ToLowerInvariant() switch
        {
            null => throw new TraceRequestException("frame.etherType", "give etherType (ipv4, arp, ipv6, or a number such as 0x88cc), or arp or ipv4."),
            "ipv4" => Wire.EtherType.Ipv4,
            "arp" => Wire.EtherType.Arp,
            "ipv6" => 0x86DD,
            var t when t.StartsWith("0x", StringComparison.Ordinal) && ushort.TryParse(t.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ushort hex) && hex >= 0x0600 => hex,
            var t when ushort.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out ushort number) && number >= 0x0600 => number,
            _ => throw new TraceRequestException("frame.etherType", $"'{text}' is not an EtherType (ipv4, arp, ipv6, or 0x0600..0xffff)."),
        };
    }

    private static byte[] ArpPayload(TraceArp arp, MacAddress src, MacAddress dst)
    {
        var op = arp.Op?.ToLowerInvariant() switch
        {
            null or "request" => ArpOperation.Request,
            "reply" => ArpOperation.Reply,
            _ => throw new TraceRequestException("frame.arp.op", "op is request or reply."),
        };
        var senderMac = arp.SenderMac is null ? src : Mac(arp.SenderMac, "frame.arp.senderMac");
        var targetMac = arp.TargetMac is null ? (op == ArpOperation.Reply ? dst : MacAddress.Zero) : Mac(arp.TargetMac, "frame.arp.targetMac", allowZero: true);
        var bytes = new byte[ArpPacket.Length];
        new ArpPacket(op, senderMac, Ip(arp.SenderIp, "frame.arp.senderIp"), targetMac, Ip(arp.TargetIp, "frame.arp.targetIp")).Write(bytes);
        return bytes;
    }

    private static byte[] Ipv4Payload(TraceIpv4 ip)
    {
        uint src = Ip(ip.Src, "frame.ipv4.src"), dst = Ip(ip.Dst, "frame.ipv4.dst");
        byte protocol = ip.Protocol?.ToLowerInvariant() switch
        {
            null or "icmp" => IpProtocol.Icmp,
            "udp" => IpProtocol.Udp,
            "tcp" => IpProtocol.Tcp,
            var p when byte.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out byte number) => number,
            _ => throw new TraceRequestException("frame.ipv4.protocol", $"'{ip.Protocol}' is not icmp, udp, tcp or 0..255."),
        };
        int ttl = ip.Ttl ?? 64;
        if (ttl is < 0 or > 255)
        {
            throw new TraceRequestException("frame.ipv4.ttl", "ttl is 0..255.");
        }

        int length = ip.Length ?? 84;
        if (length is < 28 or > 9216)
        {
            throw new TraceRequestException("frame.ipv4.length", "length (header included) is 28..9216 bytes.");
        }

        ushort srcPort = Port(ip.SrcPort ?? 49152, "frame.ipv4.srcPort"), dstPort = Port(ip.DstPort ?? 80, "frame.ipv4.dstPort");
        if (protocol == IpProtocol.Tcp && length < 40)
        {
            throw new TraceRequestException("frame.ipv4.length", "a TCP packet is at least 40 bytes (two 20-byte headers).");
        }

        var packet = new byte[length];
        Ipv4Packet.WriteHeader(packet, src, dst, protocol, (ushort)length, 1, (byte)ttl, ip.Df ?? true);
        var l4 = packet.AsSpan(Ipv4Packet.MinHeaderLength);
        switch (protocol)
        {
            case IpProtocol.Icmp:
                l4[0] = 8; // echo request (RFC 792), identifier 1, sequence 1
                BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(4), 1);
                BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(6), 1);
                BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(2), InternetChecksum.Compute(l4));
                break;
            case IpProtocol.Udp:
                UdpDatagram.WriteHeader(l4, srcPort, dstPort, (ushort)l4.Length);
                UdpDatagram.WriteChecksum(l4, src, dst);
                break;
            case IpProtocol.Tcp:
                BinaryPrimitives.WriteUInt16BigEndian(l4, srcPort);
                BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(2), dstPort);
                BinaryPrimitives.WriteUInt32BigEndian(l4.Slice(4), 1);
                l4[12] = 5 << 4; // data offset: 5 words
                l4[13] = 0x02;   // SYN
                BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(14), 64240);
                ulong sum = (ulong)(src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + IpProtocol.Tcp + (uint)l4.Length;
                BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(16), (ushort)~InternetChecksum.Fold(InternetChecksum.Add(sum, l4)));
                break;
        }

        return packet;
    }

    // A bare IPv6 header (RFC 8200) with next header 59, "no next header".
    private static byte[] Ipv6Payload()
    {
        var header = new byte[40];
        header[0] = 0x60;
        header[6] = 59;
        header[7] = 64;
        return header;
    }

    private static MacAddress Mac(string? text, string field, bool allowZero = false)
        => MacAddress.TryParse(text, out var mac) && (allowZero || mac != MacAddress.Zero)
            ? mac
            : throw new TraceRequestException(field, $"'{text}' is not a MAC address (xx:xx:xx:xx:xx:xx).");

    private static uint Ip(string? text, string field)
        => IPAddress.TryParse(text, out var ip) && ip.AddressFamily == AddressFamily.InterNetwork
            ? Ipv4Address.FromIPAddress(ip)
            : throw new TraceRequestException(field, $"'{text}' is not an IPv4 address.");

    private static ushort Port(int port, string field)
        => port is >= 1 and <= 65535 ? (ushort)port : throw new TraceRequestException(field, "a port is 1..65535.");
}
