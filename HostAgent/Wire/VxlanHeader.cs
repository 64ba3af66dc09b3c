using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Fabric.Addressing;

namespace Fabric.HostAgent.Wire;

/// <summary>
/// The VXLAN header (RFC 7348 §5):
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |R|R|R|R|I|R|R|R|            Reserved                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                VXLAN Network Identifier (VNI) |   Reserved    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// "The I flag MUST be set to 1 for a valid VXLAN Network ID (VNI). The other 7 bits (designated
/// "R") are reserved fields and MUST be set to zero on transmission and ignored on receipt." The
/// same holds for the reserved 24 and 8 bit fields. VNI 0 is valid in RFC 7348 but names no
/// segment in Fabric (see <see cref="Vni"/>), so it is refused.
/// </summary>
[SkipLocalsInit]
internal static class VxlanHeader
{
    public const int Length = 8;
    public const byte IFlag = 0x08;
    public const ushort DefaultPort = 4789;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryRead(ReadOnlySpan<byte> source, out Vni vni, out DropReason reason)
    {
        vni = default;
        if (source.Length < Length)
        {
            reason = DropReason.Truncated;
            return false;
        }

        if ((source[0] & IFlag) == 0)
        {
            reason = DropReason.BadVxlanFlags;
            return false;
        }

        // The low byte of the second word is reserved: shift it out rather than trust it to be zero.
        uint value = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(4)) >> 8;
        if (!Vni.TryCreate(value, out vni))
        {
            reason = DropReason.BadVni;
            return false;
        }

        reason = DropReason.None;
        return true;
    }

    /// <summary>Writes flags 0x08, the VNI and zero reserved fields; returns 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Write(Span<byte> destination, Vni vni)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(4, 4), vni.Value << 8);
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)IFlag << 24);
        return Length;
    }
}
