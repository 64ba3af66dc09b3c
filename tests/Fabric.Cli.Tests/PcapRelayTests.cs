using System.Buffers.Binary;
using Fabric.Cli.Capture;

namespace Fabric.Cli.Tests;

/// <summary>
/// The relay behind <c>mirror -w</c>: whole frames, byte for byte, in either byte order, stopping
/// after <c>-c N</c>, and never a half frame at the end.
/// </summary>
[Trait("Category", "Ops")]
public sealed class PcapRelayTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Frames_are_relayed_whole_and_the_count_stops_the_relay(bool littleEndian)
    {
        byte[][] frames = [Frame(0x01, 60), Frame(0x02, 98), Frame(0x03, 1514)];
        byte[] pcap = Pcap(littleEndian, frames);
        using var sink = new MemoryStream();
        var seen = new List<PcapFrame>();

        long copied = await PcapRelay.RelayAsync(new MemoryStream(pcap), sink, maxFrames: 2, seen.Add, CancellationToken.None);

        Assert.Equal(2, copied);
        Assert.Equal(pcap[..(24 + 16 + 60 + 16 + 98)], sink.ToArray());
        Assert.Equal([60, 98], seen.Select(f => f.Data.Length));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_001).AddTicks(5_000_0), seen[1].Time);
    }

    [Fact]
    public async Task A_frame_cut_off_by_the_end_of_the_stream_is_not_passed_on()
    {
        byte[] pcap = Pcap(true, [Frame(0x01, 60), Frame(0x02, 98)]);
        using var sink = new MemoryStream();

        long copied = await PcapRelay.RelayAsync(new MemoryStream(pcap[..^10]), sink, null, null, CancellationToken.None);

        Assert.Equal(1, copied);
        Assert.Equal(24 + 16 + 60, sink.Length);
    }

    [Fact]
    public async Task A_stream_that_is_not_pcap_is_refused()
    {
        byte[] html = System.Text.Encoding.ASCII.GetBytes("<html><body>502 Bad Gateway</body></html>");

        await Assert.ThrowsAsync<InvalidDataException>(() => PcapRelay.RelayAsync(new MemoryStream(html), new MemoryStream(), null, null, CancellationToken.None));
    }

    [Fact]
    public void An_arp_request_is_summarised_as_tcpdump_would()
    {
        byte[] arp = Convert.FromHexString("ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002");

        string line = FrameSummary.Of(new PcapFrame(DateTimeOffset.FromUnixTimeSeconds(0), arp, arp.Length));

        Assert.Equal("00:00:00.000000 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ARP who-has 10.0.0.2 tell 10.0.0.1, length 42", line);
    }

    private static byte[] Frame(byte fill, int length) => Enumerable.Repeat(fill, length).ToArray();

    private static byte[] Pcap(bool littleEndian, byte[][] frames)
    {
        using var stream = new MemoryStream();
        void U32(uint value)
        {
            Span<byte> b = stackalloc byte[4];
            if (littleEndian)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(b, value);
            }
            else
            {
                BinaryPrimitives.WriteUInt32BigEndian(b, value);
            }

            stream.Write(b);
        }

        void U16(ushort value)
        {
            Span<byte> b = stackalloc byte[2];
            if (littleEndian)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(b, value);
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(b, value);
            }

            stream.Write(b);
        }

        U32(0xa1b2c3d4);
        U16(2);
        U16(4);
        U32(0);
        U32(0);
        U32(65535);
        U32(1); // LINKTYPE_ETHERNET
        for (int i = 0; i < frames.Length; i++)
        {
            U32((uint)(1_700_000_000 + i));
            U32(5000);
            U32((uint)frames[i].Length);
            U32((uint)frames[i].Length);
            stream.Write(frames[i]);
        }

        return stream.ToArray();
    }
}
