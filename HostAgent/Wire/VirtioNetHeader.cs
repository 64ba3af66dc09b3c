using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Fabric.HostAgent.Wire;

/// <summary>
/// <c>struct virtio_net_hdr</c> (virtio 1.x §5.1.6, <c>include/uapi/linux/virtio_net.h</c>): the
/// 10 bytes an AF_PACKET socket with <c>PACKET_VNET_HDR</c> puts before every frame, describing the
/// offloads the kernel left undone. <see cref="NeedsChecksum"/>: the L4 checksum is partial (only the
/// pseudo-header sum is in its field); the sum from <see cref="ChecksumStart"/> to the end of the frame
/// goes at <see cref="ChecksumStart"/> + <see cref="ChecksumOffset"/>. A <see cref="GsoType"/> other
/// than <see cref="GsoNone"/>: the frame is a GSO super-frame whose payload is cut into segments of
/// <see cref="GsoSize"/> bytes, each behind a copy of the first <see cref="HeaderLength"/> bytes.
/// Fields are little-endian (a legacy virtio header on a little-endian host, as packet sockets use).
/// </summary>
[StructLayout(LayoutKind.Auto)]
internal readonly record struct VirtioNetHeader(byte Flags, byte GsoType, ushort HeaderLength, ushort GsoSize, ushort ChecksumStart, ushort ChecksumOffset)
{
    /// <summary>Its size on the wire: 10 bytes.</summary>
    public const int Length = 10;

    /// <summary>VIRTIO_NET_HDR_F_NEEDS_CSUM.</summary>
    public const byte FlagNeedsChecksum = 1;

    /// <summary>VIRTIO_NET_HDR_F_DATA_VALID: the checksum was verified.</summary>
    public const byte FlagDataValid = 2;

    /// <summary>VIRTIO_NET_HDR_GSO_NONE.</summary>
    public const byte GsoNone = 0;

    /// <summary>VIRTIO_NET_HDR_GSO_TCPV4: TSO over IPv4.</summary>
    public const byte GsoTcpV4 = 1;

    /// <summary>VIRTIO_NET_HDR_GSO_UDP: UFO, IPv4 fragmentation of one large UDP datagram (deprecated; not carried out).</summary>
    public const byte GsoUdp = 3;

    /// <summary>VIRTIO_NET_HDR_GSO_TCPV6: TSO over IPv6.</summary>
    public const byte GsoTcpV6 = 4;

    /// <summary>VIRTIO_NET_HDR_GSO_UDP_L4: UDP segmentation (USO), datagrams of <see cref="GsoSize"/> bytes each.</summary>
    public const byte GsoUdpL4 = 5;

    /// <summary>VIRTIO_NET_HDR_GSO_ECN: the TCP super-frame carries CWR, set on the first segment only.</summary>
    public const byte GsoEcn = 0x80;

    /// <summary>No offload left to do: a finished frame.</summary>
    public static VirtioNetHeader None => default;

    /// <summary>Whether the L4 checksum is partial and must be completed before the frame leaves the host.</summary>
    public bool NeedsChecksum => (Flags & FlagNeedsChecksum) != 0;

    /// <summary>Whether the frame is a GSO super-frame.</summary>
    public bool IsGso => (GsoType & ~GsoEcn) != GsoNone;

    /// <summary>The GSO type without the ECN bit.</summary>
    public byte GsoKind => (byte)(GsoType & ~GsoEcn);

    /// <summary>Whether anything is left to do before the frame may go on a wire.</summary>
    public bool HasWork => NeedsChecksum || IsGso;

    /// <summary>Reads the header from the first 10 bytes of <paramref name="source"/>.</summary>
    public static VirtioNetHeader Read(ReadOnlySpan<byte> source) => new(
        source[0],
        source[1],
        BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(2)),
        BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(4)),
        BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(6)),
        BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(8)));

    /// <summary>Writes the header into the first 10 bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        destination[0] = Flags;
        destination[1] = GsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(2), HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(4), GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(6), ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(8), ChecksumOffset);
    }

    /// <summary>
    /// The same offload for the frame moved by <paramref name="delta"/> bytes (an 802.1Q tag pushed,
    /// + 4, or popped, - 4): the checksum start and header length shift with the payload.
    /// </summary>
    public VirtioNetHeader Shifted(int delta) => !HasWork ? this : this with
    {
        HeaderLength = (ushort)Math.Max(0, HeaderLength + delta),
        ChecksumStart = NeedsChecksum ? (ushort)Math.Max(0, ChecksumStart + delta) : ChecksumStart,
    };
}
