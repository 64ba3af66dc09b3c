using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Fabric.Testing;

/// <summary>
/// Builds the frames tests send with <see cref="RawFrames.SendFramesAsync"/>: Ethernet II and IEEE
/// 802.3/LLC frames padded to the 60-byte minimum, ARP (RFC 826), and VXLAN payloads (RFC 7348 §5).
/// Written independently of the agent's codecs, so a test does not judge the agent by its own code.
/// </summary>
public static class EthernetFrames
{
    /// <summary>The broadcast MAC.</summary>
    public const string Broadcast = "ff:ff:ff:ff:ff:ff";

    /// <summary>IEEE 802 local experimental EtherType 1 (0x88B5): frames no stack answers.</summary>
    public const ushort Experimental = 0x88B5;

    private const int MinimumLength = 60;

    /// <summary>The 6 bytes of <paramref name="mac"/> (<c>02:fa:01:01:00:01</c> or with dashes).</summary>
    public static byte[] Mac(string mac)
    {
        var bytes = Convert.FromHexString(mac.Replace(":", string.Empty, StringComparison.Ordinal).Replace("-", string.Empty, StringComparison.Ordinal));
        return bytes.Length == 6 ? bytes : throw new FormatException($"'{mac}' is not a MAC address");
    }

    /// <summary>The 4 bytes of IPv4 address <paramref name="ip"/>.</summary>
    public static byte[] Ipv4(string ip)
    {
        var address = IPAddress.Parse(ip);
        return address.AddressFamily == AddressFamily.InterNetwork ? address.GetAddressBytes() : throw new FormatException($"'{ip}' is not an IPv4 address");
    }

    /// <summary>An Ethernet II frame (no FCS), zero-padded to 60 bytes.</summary>
    public static byte[] Ethernet(string destination, string source, ushort etherType, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[Math.Max(MinimumLength, 14 + payload.Length)];
        Mac(destination).CopyTo(frame, 0);
        Mac(source).CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), etherType);
        payload.CopyTo(frame.AsSpan(14));
        return frame;
    }

    /// <summary>An IEEE 802.3 frame with a length field and an LLC payload (e.g. a spanning tree BPDU), zero-padded to 60 bytes.</summary>
    public static byte[] Llc(string destination, string source, ReadOnlySpan<byte> llc)
        => Ethernet(destination, source, checked((ushort)llc.Length), llc);

    /// <summary>An IEEE 802.1D configuration BPDU to the bridge group address, as a spanning tree bridge sends it.</summary>
    public static byte[] StpBpdu(string source)
    {
        // LLC DSAP 0x42, SSAP 0x42, UI; BPDU: protocol 0, version 0, type 0 (configuration), 32 bytes.
        var llc = new byte[3 + 35];
        llc[0] = 0x42;
        llc[1] = 0x42;
        llc[2] = 0x03;
        Mac(source).CopyTo(llc, 3 + 5 + 2); // root identifier's MAC part
        return Llc("01:80:c2:00:00:00", source, llc);
    }

    /// <summary>An ARP packet (RFC 826, Ethernet/IPv4) in an Ethernet frame to <paramref name="destination"/>.</summary>
    public static byte[] Arp(ushort operation, string senderMac, string senderIp, string targetMac, string targetIp, string destination)
    {
        var arp = new byte[28];
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1); // Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(2), 0x0800);
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(6), operation);
        Mac(senderMac).CopyTo(arp, 8);
        Ipv4(senderIp).CopyTo(arp, 14);
        Mac(targetMac).CopyTo(arp, 18);
        Ipv4(targetIp).CopyTo(arp, 24);
        return Ethernet(destination, senderMac, 0x0806, arp);
    }

    /// <summary>A broadcast ARP request from <paramref name="senderMac"/>/<paramref name="senderIp"/> for <paramref name="targetIp"/>.</summary>
    public static byte[] ArpRequest(string senderMac, string senderIp, string targetIp)
        => Arp(1, senderMac, senderIp, "00:00:00:00:00:00", targetIp, Broadcast);

    /// <summary>
    /// A gratuitous ARP announcing that <paramref name="ip"/> is at <paramref name="mac"/>: a broadcast
    /// request whose sender and target address are both <paramref name="ip"/> (RFC 5227 §3, as <c>arping -U</c> sends it).
    /// </summary>
    public static byte[] GratuitousArp(string mac, string ip) => ArpRequest(mac, ip, ip);

    /// <summary>A VXLAN payload (the UDP payload on port 4789) carrying <paramref name="inner"/> in <paramref name="vni"/>: flags 0x08 (I), reserved bits zero.</summary>
    public static byte[] Vxlan(long vni, ReadOnlySpan<byte> inner)
    {
        var payload = new byte[8 + inner.Length];
        payload[0] = 0x08;
        payload[4] = (byte)(vni >> 16);
        payload[5] = (byte)(vni >> 8);
        payload[6] = (byte)vni;
        inner.CopyTo(payload.AsSpan(8));
        return payload;
    }
}
