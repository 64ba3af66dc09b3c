using System.Buffers.Binary;

namespace Fabric.Cli.Capture;

/// <summary>One captured frame: when (UTC), its bytes as captured, and its length on the wire.</summary>
/// <param name="Time">The capture time.</param>
/// <param name="Data">The frame as captured (may be cut at the snap length).</param>
/// <param name="OriginalLength">The frame's length on the wire.</param>
internal readonly record struct PcapFrame(DateTimeOffset Time, ReadOnlyMemory<byte> Data, int OriginalLength);

/// <summary>
/// Relays a libpcap stream (https://www.tcpdump.org/manpages/pcap-savefile.5.html: a 24-byte file
/// header whose magic gives the byte order and the time resolution, then per frame a 16-byte record
/// header and the frame) byte for byte to a sink, frame by frame, so a reader at the other end
/// (<c>tshark -r -</c>) sees each frame as it comes; it can stop after a number of frames.
/// </summary>
internal static class PcapRelay
{
    /// <summary>The largest record fabricctl accepts: 256 KiB (tcpdump's largest snap length).</summary>
    public const int MaxRecord = 262_144;

    /// <summary>
    /// Copies the file header and then whole frames from <paramref name="source"/> to
    /// <paramref name="sink"/> (flushed after each), calling <paramref name="onFrame"/> for each,
    /// until the source ends, <paramref name="maxFrames"/> frames were copied, or
    /// <paramref name="cancellation"/> fires.
    /// </summary>
    /// <returns>How many frames were copied.</returns>
    /// <exception cref="InvalidDataException">The source is not a libpcap stream.</exception>
    public static async Task<long> RelayAsync(Stream source, Stream? sink, long? maxFrames, Action<PcapFrame>? onFrame, CancellationToken cancellation)
    {
        byte[] header = new byte[24];
        if (!await ReadExactlyOrEndAsync(source, header, cancellation))
        {
            return 0;
        }

        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(header);
        bool littleEndian;
        bool nanoseconds;
        switch (magic)
        {
            case 0xa1b2c3d4: littleEndian = true; nanoseconds = false; break;
            case 0xa1b23c4d: littleEndian = true; nanoseconds = true; break;
            case 0xd4c3b2a1: littleEndian = false; nanoseconds = false; break;
            case 0x4d3cb2a1: littleEndian = false; nanoseconds = true; break;
            default: throw new InvalidDataException($"the server's answer is not a pcap stream (magic 0x{magic:x8}).");
        }

        if (sink is not null)
        {
            await sink.WriteAsync(header, cancellation);
            await sink.FlushAsync(cancellation);
        }

        long frames = 0;
        byte[] record = new byte[16];
        byte[] data = new byte[2048];
        while (maxFrames is null || frames < maxFrames)
        {
            if (!await ReadExactlyOrEndAsync(source, record, cancellation))
            {
                break;
            }

            uint seconds = Read(record.AsSpan(0), littleEndian);
            uint fraction = Read(record.AsSpan(4), littleEndian);
            uint captured = Read(record.AsSpan(8), littleEndian);
            uint original = Read(record.AsSpan(12), littleEndian);
            if (captured > MaxRecord)
            {
                throw new InvalidDataException($"pcap record {frames + 1} claims {captured} bytes; more than {MaxRecord}.");
            }

            if (data.Length < captured)
            {
                data = new byte[captured];
            }

            if (!await ReadExactlyOrEndAsync(source, data.AsMemory(0, (int)captured), cancellation))
            {
                break; // cut off mid-frame: the frame is not whole, so it is not passed on
            }

            if (sink is not null)
            {
                await sink.WriteAsync(record, cancellation);
                await sink.WriteAsync(data.AsMemory(0, (int)captured), cancellation);
                await sink.FlushAsync(cancellation);
            }

            frames++;
            var time = DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(nanoseconds ? fraction / 100 : fraction * 10L);
            onFrame?.Invoke(new PcapFrame(time, data.AsMemory(0, (int)captured), (int)original));
        }

        return frames;
    }

    private static uint Read(ReadOnlySpan<byte> bytes, bool littleEndian)
        => littleEndian ? BinaryPrimitives.ReadUInt32LittleEndian(bytes) : BinaryPrimitives.ReadUInt32BigEndian(bytes);

    /// <summary>Fills <paramref name="buffer"/>; false if the stream ends first (at once or part-way).</summary>
    private static async Task<bool> ReadExactlyOrEndAsync(Stream source, Memory<byte> buffer, CancellationToken cancellation)
    {
        int read = await source.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellation);
        return read == buffer.Length;
    }
}
