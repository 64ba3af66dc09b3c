using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.HostAgent.Wire;

/// <summary>
/// A view over a UDP datagram (RFC 768), sliced to its Length field.
/// <code>
///  0      7 8     15 16    23 24    31
/// +--------+--------+--------+--------+
/// |     Source      |   Destination   |
/// |      Port       |      Port       |
/// +--------+--------+--------+--------+
/// |                 |                 |
/// |     Length      |    Checksum     |
/// +--------+--------+--------+--------+
/// |
/// |          data octets ...
/// +---------------- ...
/// </code>
/// Over IPv4 a checksum of 0 means "not computed" (RFC 768); VXLAN senders SHOULD send 0
/// (RFC 7348 §5), and Fabric does unless told otherwise.
/// </summary>
[SkipLocalsInit]
internal readonly ref struct UdpDatagram
{
    public const int HeaderLength = 8;

    private readonly ReadOnlySpan<byte> _datagram;

    private UdpDatagram(ReadOnlySpan<byte> datagram) => _datagram = datagram;

    /// <summary>Header and payload, exactly <see cref="Length"/> bytes.</summary>
    public ReadOnlySpan<byte> Datagram => _datagram;

    public ushort SourcePort => BinaryPrimitives.ReadUInt16BigEndian(_datagram);

    public ushort DestinationPort => BinaryPrimitives.ReadUInt16BigEndian(_datagram.Slice(2));

    public int Length => _datagram.Length;

    public ushort Checksum => BinaryPrimitives.ReadUInt16BigEndian(_datagram.Slice(6));

    public ReadOnlySpan<byte> Payload => _datagram.Slice(HeaderLength);

    public static bool TryParse(ReadOnlySpan<byte> source, out UdpDatagram udp, out DropReason reason)
    {
        udp = default;
        if (source.Length < HeaderLength)
        {
            reason = DropReason.Truncated;
            return false;
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(4));
        if (length < HeaderLength)
        {
            reason = DropReason.BadUdpLength;
            return false;
        }

        if (length > source.Length)
        {
            reason = DropReason.Truncated;
            return false;
        }

        udp = new UdpDatagram(source.Slice(0, length));
        reason = DropReason.None;
        return true;
    }

    /// <summary>True if the checksum is absent (0) or verifies over the IPv4 pseudo-header.</summary>
    public bool ChecksumIsValid(uint sourceAddress, uint destinationAddress)
        => Checksum == 0
            || InternetChecksum.Fold(InternetChecksum.Add(PseudoHeaderSum(sourceAddress, destinationAddress, _datagram.Length), _datagram)) == 0xFFFF;

    /// <summary>Writes the 8-byte header with checksum 0; returns 8.</summary>
    public static int WriteHeader(Span<byte> destination, ushort sourcePort, ushort destinationPort, ushort length)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(6, 2), 0);
        BinaryPrimitives.WriteUInt16BigEndian(destination, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(4), length);
        return HeaderLength;
    }

    /// <summary>
    /// Computes the checksum of a complete datagram (header with any checksum value, and payload)
    /// over the IPv4 pseudo-header and stores it in the header.
    /// </summary>
    public static void WriteChecksum(Span<byte> datagram, uint sourceAddress, uint destinationAddress)
    {
        BinaryPrimitives.WriteUInt16BigEndian(datagram.Slice(6, 2), 0);
        ulong sum = InternetChecksum.Add(PseudoHeaderSum(sourceAddress, destinationAddress, datagram.Length), datagram);
        ushort checksum = (ushort)~InternetChecksum.Fold(sum);

        // RFC 768: a computed checksum of zero is transmitted as all ones, since 0 means "none".
        BinaryPrimitives.WriteUInt16BigEndian(datagram.Slice(6), checksum == 0 ? (ushort)0xFFFF : checksum);
    }

    // RFC 768: source address, destination address, zero, protocol, UDP length.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong PseudoHeaderSum(uint sourceAddress, uint destinationAddress, int length)
        => (ulong)sourceAddress + destinationAddress + IpProtocol.Udp + (uint)length;
}
