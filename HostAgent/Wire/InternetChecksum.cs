using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
    /// Adds <paramref name="data"/> to a running sum of big-endian 16-bit words. Every call but the
    /// last must pass an even number of bytes, because an odd trailing byte is padded with a zero on
    /// the right. The bulk is summed in the machine's own byte order, 32 bytes at a time with SIMD
    /// where the CPU has it, and byte-swapped once at the end: RFC 1071 §2(B), "byte order
    /// independence". <see cref="AddScalar"/> is the plain definition it must agree with.
    /// </summary>
    public static ulong Add(ulong sum, ReadOnlySpan<byte> data)
    {
        if (!BitConverter.IsLittleEndian || data.Length < 64)
        {
            return AddScalar(sum, data);
        }

        ref byte start = ref MemoryMarshal.GetReference(data);
        int length = data.Length, i = 0;
        ulong native = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // Each 64-bit lane adds at most 2^32 - 1 per step: no overflow below 2^32 steps.
            var low = Vector256<ulong>.Zero;
            var high = Vector256<ulong>.Zero;
            for (; i <= length - 32; i += 32)
            {
                var (a, b) = Vector256.Widen(Vector256.LoadUnsafe(ref start, (nuint)i).AsUInt32());
                low += a;
                high += b;
            }

            native = Vector256.Sum(low) + Vector256.Sum(high); // lanes < 2^58 for any span under 2 GiB
        }

        for (; i <= length - 4; i += 4)
        {
            native += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i));
        }

        // The little-endian sum folded to 16 bits is the big-endian one with its bytes swapped.
        sum += BinaryPrimitives.ReverseEndianness(Fold(native));
        return AddScalar(sum, data.Slice(i));
    }

    /// <summary><see cref="Add"/> by the definition: big-endian 32-bit words into a 64-bit accumulator (RFC 1071 §2(C)).</summary>
    public static ulong AddScalar(ulong sum, ReadOnlySpan<byte> data)
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
