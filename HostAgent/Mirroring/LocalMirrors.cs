using System.Buffers.Binary;
using System.Diagnostics;
using Fabric.Grains;
using Fabric.HostAgent.Forwarding;

namespace Fabric.HostAgent.Mirroring;

/// <summary>
/// The local port mirrors of this agent (<c>GET /v1/mirror</c>, relayed as
/// <c>GET /api/hosts/{id}/ports/{port}/mirror</c>; <c>fabricctl mirror -w FILE</c>): each is a
/// <see cref="CaptureRing"/> on one port slot, streamed as pcap until its reader leaves. Starting or
/// ending one publishes a new <see cref="MirrorSet"/> to the data plane; with none active the data
/// plane reads null. At most <see cref="MaxSessions"/> at once.
/// </summary>
internal sealed partial class LocalMirrors(DataPlane dataPlane, ILogger<LocalMirrors> logger)
{
    /// <summary>Local mirrors an agent runs at once: 4.</summary>
    public const int MaxSessions = 4;

    private readonly Lock _gate = new();
    private readonly List<(int Slot, MirrorDirection Direction, MirrorSink Ring)> _sessions = [];

    /// <summary>How many local mirrors are active.</summary>
    public int Active
    {
        get
        {
            lock (_gate)
            {
                return _sessions.Count;
            }
        }
    }

    /// <summary>Starts mirroring <paramref name="slot"/>; null when <see cref="MaxSessions"/> are active.</summary>
    public CaptureRing? Start(int slot, string port, MirrorDirection direction)
    {
        var ring = new CaptureRing();
        lock (_gate)
        {
            if (_sessions.Count >= MaxSessions)
            {
                return null;
            }

            _sessions.Add((slot, direction, ring));
            dataPlane.SetLocalMirrors([.. _sessions]);
        }

        Log.Started(logger, port, direction);
        return ring;
    }

    /// <summary>Ends the mirror of <paramref name="ring"/>.</summary>
    public void Stop(CaptureRing ring, string port)
    {
        lock (_gate)
        {
            _sessions.RemoveAll(s => ReferenceEquals(s.Ring, ring));
            dataPlane.SetLocalMirrors([.. _sessions]);
        }

        Log.Stopped(logger, port, ring.Overruns);
    }

    /// <summary>
    /// Streams <paramref name="ring"/> to <paramref name="output"/> in the libpcap format (a 24-byte
    /// global header, LINKTYPE_ETHERNET, microsecond timestamps; then a 16-byte record header per
    /// frame), polling every 10 ms, until <paramref name="ct"/> is cancelled (the reader left),
    /// <paramref name="count"/> frames were written (0: no limit) or the port is no longer in its
    /// slot (detached).
    /// </summary>
    public async Task StreamAsync(CaptureRing ring, int slot, string port, Stream output, int count, TimeProvider time, CancellationToken ct)
    {
        long baseTimestamp = Stopwatch.GetTimestamp();
        var baseTime = time.GetUtcNow();
        var header = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xA1B2C3D4);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(6), 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), CaptureRing.SnapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(20), 1); // LINKTYPE_ETHERNET
        await output.WriteAsync(header, ct);
        await output.FlushAsync(ct);

        var frame = new byte[16 + CaptureRing.SnapLength];
        int written = 0;
        while (!ct.IsCancellationRequested)
        {
            bool any = false;
            while (ring.TryRead(frame.AsSpan(16), out int length, out int original, out long timestamp))
            {
                var at = baseTime + Stopwatch.GetElapsedTime(baseTimestamp, timestamp);
                long micros = at.ToUnixTimeMilliseconds() * 1000 + at.Ticks / 10 % 1000;
                BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)(micros / 1_000_000));
                BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), (uint)(micros % 1_000_000));
                BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(8), (uint)length);
                BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(12), (uint)original);
                await output.WriteAsync(frame.AsMemory(0, 16 + length), ct);
                any = true;
                if (count > 0 && ++written >= count)
                {
                    await output.FlushAsync(ct);
                    return;
                }
            }

            if (any)
            {
                await output.FlushAsync(ct);
            }

            var current = dataPlane.Snapshot.Ports;
            if ((uint)slot >= (uint)current.Length || !current[slot].Attached || current[slot].Name != port)
            {
                return;
            }

            await Task.Delay(10, ct);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = Diagnostics.AgentEventIds.MirrorStarted, Level = LogLevel.Information, Message = "Port mirror of {Port} started (direction {Direction})")]
        public static partial void Started(ILogger logger, string port, MirrorDirection direction);

        [LoggerMessage(EventId = Diagnostics.AgentEventIds.MirrorEnded, Level = LogLevel.Information, Message = "Port mirror of {Port} ended; {Overruns} frames were not mirrored because the reader fell behind")]
        public static partial void Stopped(ILogger logger, string port, long overruns);
    }
}
