using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.HostAgent.Wire;

/// <summary>
/// A view over an IPv4 packet (RFC 791 §3.1), sliced to its Total Length so that Ethernet padding
/// after it is not mistaken for payload.
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |Type of Service|          Total Length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Identification        |Flags|      Fragment Offset    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Time to Live |    Protocol   |         Header Checksum       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Source Address                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Destination Address                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Options                    |    Padding    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// Flags are 0, DF (don't fragment), MF (more fragments). Addresses are host-order <see cref="uint"/>s.
/// </summary>
[SkipLocalsInit]
internal readonly ref struct Ipv4Packet
{
    public const int MinHeaderLength = 20;
    public const int MaxTotalLength = ushort.MaxValue;
    /// <summary>The Don't Fragment flag in the flags-and-offset word (RFC 791 §3.1).</summary>
    public const ushort DontFragmentBit = 0x4000;
    private const ushort MoreFragmentsBit = 0x2000;
    private const ushort FragmentOffsetMask = 0x1FFF;

    private readonly ReadOnlySpan<byte> _packet;

    private Ipv4Packet(ReadOnlySpan<byte> packet, int headerLength)
    {
        _packet = packet;
        HeaderLength = headerLength;
    }

    /// <summary>The packet, exactly <see cref="TotalLength"/> bytes.</summary>
    public ReadOnlySpan<byte> Packet => _packet;

    /// <summary>IHL × 4: 20..60.</summary>
    public int HeaderLength { get; }

    public byte TypeOfService => _packet[1];

    public int TotalLength => _packet.Length;

    public ushort Identification => BinaryPrimitives.ReadUInt16BigEndian(_packet.Slice(4));

    private ushort FlagsAndOffset => BinaryPrimitives.ReadUInt16BigEndian(_packet.Slice(6));

    public bool DontFragment => (FlagsAndOffset & DontFragmentBit) != 0;

    public bool MoreFragments => (FlagsAndOffset & MoreFragmentsBit) != 0;

    /// <summary>Fragment offset in 8-byte units.</summary>
    public ushort FragmentOffset => (ushort)(FlagsAndOffset & FragmentOffsetMask);

    /// <summary>True for any fragment, first or not: its L4 header may be missing or incomplete.</summary>
    public bool IsFragment => (FlagsAndOffset & (MoreFragmentsBit | FragmentOffsetMask)) != 0;

    public byte TimeToLive => _packet[8];

    public byte Protocol => _packet[9];

    public ushort HeaderChecksum => BinaryPrimitives.ReadUInt16BigEndian(_packet.Slice(10));

    public uint Source => BinaryPrimitives.ReadUInt32BigEndian(_packet.Slice(12));

    public uint Destination => BinaryPrimitives.ReadUInt32BigEndian(_packet.Slice(16));

    public ReadOnlySpan<byte> Options => _packet.Slice(MinHeaderLength, HeaderLength - MinHeaderLength);

    public ReadOnlySpan<byte> Payload => _packet.Slice(HeaderLength);

    /// <summary>
    /// Validates version, IHL, total length and (unless <paramref name="verifyChecksum"/> is false)
    /// the header checksum. <paramref name="source"/> may be longer than the packet (link padding).
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> source, out Ipv4Packet ipv4, out DropReason reason, bool verifyChecksum = true)
    {
        ipv4 = default;
        if (source.Length < MinHeaderLength)
        {
            reason = DropReason.Truncated;
            return false;
        }

        byte versionAndIhl = source[0];
        if (versionAndIhl >> 4 != 4)
        {
            reason = DropReason.BadIpVersion;
            return false;
        }

        int headerLength = (versionAndIhl & 0x0F) * 4;
        if (headerLength < MinHeaderLength)
        {
            reason = DropReason.BadIhl;
            return false;
        }

        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(2));
        if (totalLength < headerLength)
        {
            reason = DropReason.BadTotalLength;
            return false;
        }

        if (totalLength > source.Length)
        {
            reason = DropReason.Truncated;
            return false;
        }

        ReadOnlySpan<byte> packet = source.Slice(0, totalLength);
        if (verifyChecksum && !InternetChecksum.Verify(packet.Slice(0, headerLength)))
        {
            reason = DropReason.BadChecksum;
            return false;
        }

        ipv4 = new Ipv4Packet(packet, headerLength);
        reason = DropReason.None;
        return true;
    }

    /// <summary>
    /// Writes a 20-byte header without options, with its checksum, and returns 20.
    /// <paramref name="totalLength"/> is header plus payload.
    /// </summary>
    public static int WriteHeader(
        Span<byte> destination,
        uint sourceAddress,
        uint destinationAddress,
        byte protocol,
        ushort totalLength,
        ushort identification,
        byte timeToLive,
        bool dontFragment = true,
        byte typeOfService = 0)
    {
        Span<byte> header = destination.Slice(0, MinHeaderLength);
        header[0] = 0x45;
        header[1] = typeOfService;
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(2), totalLength);
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(4), identification);
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(6), dontFragment ? DontFragmentBit : (ushort)0);
        header[8] = timeToLive;
        header[9] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(10), 0);
        BinaryPrimitives.WriteUInt32BigEndian(header.Slice(12), sourceAddress);
        BinaryPrimitives.WriteUInt32BigEndian(header.Slice(16), destinationAddress);
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(10), InternetChecksum.Compute(header));
        return MinHeaderLength;
    }

    /// <summary>Recomputes the checksum of a header already in <paramref name="header"/> (after a TTL or address rewrite).</summary>
    public static void UpdateChecksum(Span<byte> header)
    {
        int headerLength = (header[0] & 0x0F) * 4;
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(10), 0);
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(10), InternetChecksum.Compute(header.Slice(0, headerLength)));
    }
}
