using System.Buffers.Binary;
using System.Globalization;

namespace Fabric.Cli.Capture;

/// <summary>
/// One line per captured frame when <c>mirror</c> writes no file, as <c>tcpdump -e -n</c> prints:
/// time, MACs, VLAN, EtherType, and for ARP and IPv4 the addresses.
/// </summary>
internal static class FrameSummary
{
    /// <summary>E.g. <c>12:00:01.123456 02:00:00:00:00:01 > 02:00:00:00:00:02, vlan 100, IPv4 10.0.0.1 > 10.0.0.2 icmp, length 98</c>.</summary>
    public static string Of(PcapFrame frame)
    {
        var bytes = frame.Data.Span;
        string time = frame.Time.UtcDateTime.ToString("HH:mm:ss.ffffff", CultureInfo.InvariantCulture);
        if (bytes.Length < 14)
        {
            return $"{time} runt frame, length {frame.OriginalLength}";
        }

        string text = $"{time} {Mac(bytes[6..12])} > {Mac(bytes[..6])}";
        int offset = 12;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(bytes[offset..]);
        while (type is 0x8100 or 0x88a8 && bytes.Length >= offset + 6)
        {
            text += $", vlan {BinaryPrimitives.ReadUInt16BigEndian(bytes[(offset + 2)..]) & 0x0fff}";
            offset += 4;
            type = BinaryPrimitives.ReadUInt16BigEndian(bytes[offset..]);
        }

        var payload = bytes[(offset + 2)..];
        text += type switch
        {
            0x0800 when payload.Length >= 20 => $", IPv4 {Ip(payload[12..16])} > {Ip(payload[16..20])} {Protocol(payload[9])}",
            0x0806 when payload.Length >= 28 => ", " + Arp(payload),
            0x86dd => ", IPv6",
            0x0800 => ", IPv4 (truncated)",
            0x0806 => ", ARP (truncated)",
            _ => $", ethertype 0x{type:x4}",
        };
        return text + $", length {frame.OriginalLength}";
    }

    private static string Arp(ReadOnlySpan<byte> arp)
    {
        ushort op = BinaryPrimitives.ReadUInt16BigEndian(arp[6..]);
        return op switch
        {
            1 => $"ARP who-has {Ip(arp[24..28])} tell {Ip(arp[14..18])}",
            2 => $"ARP {Ip(arp[14..18])} is-at {Mac(arp[8..14])}",
            _ => $"ARP op {op}",
        };
    }

    private static string Protocol(byte protocol) => protocol switch
    {
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        _ => $"proto {protocol}",
    };

    private static string Mac(ReadOnlySpan<byte> mac) => Convert.ToHexStringLower(mac) is var hex
        ? string.Join(':', Enumerable.Range(0, 6).Select(i => hex.Substring(i * 2, 2)))
        : string.Empty;

    private static string Ip(ReadOnlySpan<byte> ip) => $"{ip[0]}.{ip[1]}.{ip[2]}.{ip[3]}";
}
