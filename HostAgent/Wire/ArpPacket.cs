using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Fabric.Addressing;

namespace Fabric.HostAgent.Wire;

/// <summary>ARP operation codes (RFC 826; IANA "ARP Parameters").</summary>
internal enum ArpOperation : ushort
{
    Request = 1,
    Reply = 2,
}

/// <summary>
/// An ARP packet for IPv4 over Ethernet (RFC 826), the only kind the data plane answers or
/// suppresses. 28 bytes; in an Ethernet frame it is usually followed by padding to 60 bytes.
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |    Hardware type (HTYPE) = 1  |  Protocol type (PTYPE)=0x0800 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   HLEN = 6    |   PLEN = 4    |    Operation (1 req, 2 reply) |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |            Sender hardware address (octets 0-3)               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Sender hardware addr (4-5)    | Sender protocol addr (0-1)    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Sender protocol addr (2-3)    | Target hardware addr (0-1)    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |            Target hardware address (octets 2-5)               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  Target protocol address                      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// Protocol addresses are IPv4 addresses as host-order <see cref="uint"/>s.
/// </summary>
[SkipLocalsInit]
internal readonly record struct ArpPacket(
    ArpOperation Operation,
    MacAddress SenderHardwareAddress,
    uint SenderProtocolAddress,
    MacAddress TargetHardwareAddress,
    uint TargetProtocolAddress)
{
    public const int Length = 28;
    private const ushort HardwareTypeEthernet = 1;

    // HTYPE, PTYPE, HLEN, PLEN as one big-endian 48-bit prefix: 0001 0800 06 04.
    private const uint FixedPrefix = 0x0001_0800;
    private const ushort FixedLengths = 0x0604;

    public static bool TryRead(ReadOnlySpan<byte> source, out ArpPacket arp, out DropReason reason)
    {
        arp = default;
        if (source.Length < Length)
        {
            reason = DropReason.Truncated;
            return false;
        }

        ushort operation = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(6));
        if (BinaryPrimitives.ReadUInt32BigEndian(source) != FixedPrefix
            || BinaryPrimitives.ReadUInt16BigEndian(source.Slice(4)) != FixedLengths
            || operation is not ((ushort)ArpOperation.Request or (ushort)ArpOperation.Reply))
        {
            reason = DropReason.UnsupportedArp;
            return false;
        }

        arp = new ArpPacket(
            (ArpOperation)operation,
            MacAddress.Read(source.Slice(8)),
            BinaryPrimitives.ReadUInt32BigEndian(source.Slice(14)),
            MacAddress.Read(source.Slice(18)),
            BinaryPrimitives.ReadUInt32BigEndian(source.Slice(24)));
        reason = DropReason.None;
        return true;
    }

    /// <summary>Writes the 28-byte packet; returns 28. Throws if <paramref name="destination"/> is shorter.</summary>
    public int Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(24, 4), TargetProtocolAddress);
        BinaryPrimitives.WriteUInt16BigEndian(destination, HardwareTypeEthernet);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2), EtherType.Ipv4);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(4), FixedLengths);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(6), (ushort)Operation);
        SenderHardwareAddress.Write(destination.Slice(8));
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(14), SenderProtocolAddress);
        TargetHardwareAddress.Write(destination.Slice(18));
        return Length;
    }
}
