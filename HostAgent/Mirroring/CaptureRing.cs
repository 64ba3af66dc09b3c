using System.Diagnostics;

namespace Fabric.HostAgent.Mirroring;

/// <summary>
/// A local port mirror's queue between the receive threads (many writers) and the one reader that
/// streams it as pcap (<see cref="PcapStream"/>): <see cref="Capacity"/> preallocated slots of
/// <see cref="SnapLength"/> bytes, each claimed with one compare-and-swap and filled with one copy.
/// No lock, no allocation, no signal: the reader polls. A frame that finds no free slot is counted in
/// <see cref="Overruns"/> and not mirrored (forwarding never waits for a mirror); a longer frame (a
/// GSO super-frame) is cut to <see cref="SnapLength"/> and keeps its original length, as a capture
/// with a snap length records it.
/// </summary>
internal sealed class CaptureRing : MirrorSink
{
    /// <summary>Slots in the ring: 256.</summary>
    public const int Capacity = 256;

    /// <summary>Bytes kept of each frame: 9,232 (a 9,216-byte MTU, the Ethernet header and a tag); pcap's snaplen.</summary>
    public const int SnapLength = 9216 + 18;

    private const int Free = 0, Writing = 1, Ready = 2;

    private readonly byte[][] _frames = [.. Enumerable.Range(0, Capacity).Select(_ => new byte[SnapLength])];
    private readonly int[] _lengths = new int[Capacity];
    private readonly int[] _originalLengths = new int[Capacity];
    private readonly long[] _timestamps = new long[Capacity];
    private readonly int[] _states = new int[Capacity];
    private long _written;
    private long _read;
    private long _overruns;

    /// <summary>Frames that found the ring full and were not mirrored.</summary>
    public long Overruns => Volatile.Read(ref _overruns);

    /// <inheritdoc />
    public override void Copy(Forwarding.DataPlane dataPlane, ReadOnlySpan<byte> frame, Forwarding.ForwardingScratch scratch) => Write(frame);

    /// <summary>
    /// Data plane: copies <paramref name="frame"/> into the next slot, in order. The ring is a
    /// sequence: writers take increasing positions; a position whose slot the reader has not emptied
    /// yet is an overrun.
    /// </summary>
    public void Write(ReadOnlySpan<byte> frame)
    {
        long position = Interlocked.Increment(ref _written) - 1;
        int slot = (int)(position % Capacity);
        if (Interlocked.CompareExchange(ref _states[slot], Writing, Free) != Free)
        {
            Interlocked.Increment(ref _overruns);
            return;
        }

        int length = Math.Min(frame.Length, SnapLength);
        frame.Slice(0, length).CopyTo(_frames[slot]);
        _lengths[slot] = length;
        _originalLengths[slot] = frame.Length;
        _timestamps[slot] = Stopwatch.GetTimestamp();
        Volatile.Write(ref _states[slot], Ready);
    }

    /// <summary>
    /// Reader: the next frame in order if it is ready, copied into <paramref name="destination"/>
    /// (at least <see cref="SnapLength"/> bytes). A slot skipped by an overrun is passed over.
    /// </summary>
    public bool TryRead(Span<byte> destination, out int length, out int originalLength, out long timestamp)
    {
        while (true)
        {
            long read = _read;
            if (read >= Volatile.Read(ref _written))
            {
                length = originalLength = 0;
                timestamp = 0;
                return false;
            }

            int slot = (int)(read % Capacity);
            int state = Volatile.Read(ref _states[slot]);
            if (state == Ready)
            {
                length = _lengths[slot];
                originalLength = _originalLengths[slot];
                timestamp = _timestamps[slot];
                _frames[slot].AsSpan(0, length).CopyTo(destination);
                Volatile.Write(ref _states[slot], Free);
                _read = read + 1;
                return true;
            }

            if (state == Writing)
            {
                // A writer is copying into it right now: come back on the next poll.
                length = originalLength = 0;
                timestamp = 0;
                return false;
            }

            // Free: that position overran (its writer found the slot busy and gave up); skip it.
            _read = read + 1;
        }
    }
}
