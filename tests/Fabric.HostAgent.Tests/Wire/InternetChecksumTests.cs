using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Tests.Wire;

/// <summary>
/// The Internet checksum (RFC 1071): the SIMD, native-byte-order sum must fold to what the plain
/// big-endian definition gives, for every length, alignment and running sum.
/// </summary>
[Trait("Category", "Unit")]
public sealed class InternetChecksumTests
{
    [Fact]
    public void The_rfc_1071_example_sums_to_ddf2()
    {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums (with end-around carry) to dd f2.
        byte[] data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        Assert.Equal(0xddf2, InternetChecksum.Fold(InternetChecksum.Add(0, data)));

        // The same 8 bytes 16 times (128 bytes, the vector path): 16 × 0xddf2 folded.
        byte[] repeated = [.. Enumerable.Repeat(data, 16).SelectMany(d => d)];
        Assert.Equal(InternetChecksum.Fold(16UL * 0xddf2), InternetChecksum.Fold(InternetChecksum.Add(0, repeated)));
    }

    [Fact]
    public void The_vector_sum_folds_like_the_definition_for_every_length_offset_and_running_sum()
    {
        var random = new Random(1071);
        var buffer = new byte[65536 + 64];
        for (int round = 0; round < 3000; round++)
        {
            int length = round switch
            {
                < 600 => round,                     // every small length, odd and even
                < 700 => 65536 - random.Next(64),   // super-frame sizes
                _ => random.Next(9700),
            };
            int offset = random.Next(32);             // any alignment
            var data = buffer.AsSpan(offset, length);
            switch (round % 7)
            {
                case 0: data.Fill(0xFF); break;       // worst case for carries
                case 1: data.Clear(); break;
                default: random.NextBytes(data); break;
            }

            ulong running = round % 3 == 0 ? 0 : (ulong)random.NextInt64(0, 1L << 40);
            Assert.Equal(
                InternetChecksum.Fold(InternetChecksum.AddScalar(running, data)),
                InternetChecksum.Fold(InternetChecksum.Add(running, data)));
        }
    }

    [Fact]
    public void A_sum_split_at_even_boundaries_equals_the_whole()
    {
        var random = new Random(8200);
        var data = new byte[4000];
        random.NextBytes(data);
        ulong whole = InternetChecksum.Add(0, data);
        ulong split = InternetChecksum.Add(InternetChecksum.Add(InternetChecksum.Add(0, data.AsSpan(0, 66)), data.AsSpan(66, 1400)), data.AsSpan(1466));
        Assert.Equal(InternetChecksum.Fold(whole), InternetChecksum.Fold(split));
        Assert.True(InternetChecksum.Verify([.. data.AsSpan(0, 100), .. BitConverter.GetBytes(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(InternetChecksum.Compute(data.AsSpan(0, 100))))]));
    }
}
