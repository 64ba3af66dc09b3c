using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.HostAgent.Wire;

/// <summary>
/// The Internet checksum: the 16-bit one's complement of the one's complement sum (RFC 1071).
/// Words are summed 32 bits at a time into a 64-bit accumulator and folded at the end, which
/// RFC 1071 §2(C) ("parallel summation") shows gives the same result as 16-bit addition.
/// </summary>
[SkipLocalsInit]
internal static class InternetChecksum
{
    /// <summary>
    /// Adds <paramref name="data"/> to a running sum. Every call but the last must pass an even
    /// number of bytes, because an odd trailing byte is padded with a zero on the right.
    /// </summary>
    public static ulong Add(ulong sum, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 4)
        {
            sum += BinaryPrimitives.ReadUInt32BigEndian(data);
            data = data.Slice(4);
        }

        if (data.Length >= 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data);
            data = data.Slice(2);
        }

        if (data.Length == 1)
        {
            sum += (uint)data[0] << 8;
        }

        return sum;
    }

    /// <summary>Folds a running sum into 16 bits with end-around carry.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Fold(ulong sum)
    {
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        uint s = (uint)sum;
        s = (s & 0xFFFF) + (s >> 16);
        s = (s & 0xFFFF) + (s >> 16);
        return (ushort)s;
    }

    /// <summary>The checksum to write into a header whose checksum field was zero while summing.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data) => (ushort)~Fold(Add(0, data));

    /// <summary>True when data that includes its checksum field sums to all ones (RFC 1071 §1).</summary>
    public static bool Verify(ReadOnlySpan<byte> data) => Fold(Add(0, data)) == 0xFFFF;
}
