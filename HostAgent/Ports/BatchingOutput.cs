using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Ports;

/// <summary>
/// One receive thread's output: what the pipeline sends while it works through a received batch is
/// queued per socket (<see cref="SendBatch"/>) and leaves in one sendmmsg(2) per socket when the
/// batch is done (<see cref="Flush"/>), or earlier when a queue fills. A burst of small frames costs
/// a system call per batch, not per frame. Ports whose backend cannot batch are sent to at once.
/// Sends the kernel refuses are counted as <see cref="DataPlaneDrop.SendFailed"/> at the flush.
/// </summary>
internal sealed class BatchingOutput : IDataPlaneOutput, IDisposable
{
    /// <summary>Messages per sendmmsg.</summary>
    public const int Capacity = 64;

    private const int PortArenaBytes = 512 * 1024;

    /// <summary>Frames longer than this (GSO super-frames) are sent at once rather than copied into the batch.</summary>
    public const int DirectSendLength = 16 * 1024;
    private const int VtepArenaBytes = Capacity * (FrameBatch.DefaultMaxFrameLength + 64);

    private readonly IReadOnlyList<IFramePort> _ports;
    private readonly VtepSocket _vtep;
    private readonly DataPlaneCounters _counters;
    private readonly SendBatch?[] _portBatches;
    private readonly SendBatch _vtepBatch = new(Capacity, VtepArenaBytes, vnetHeaders: false, addressed: true);

    public BatchingOutput(IReadOnlyList<IFramePort> ports, VtepSocket vtep, DataPlaneCounters counters)
    {
        _ports = ports;
        _vtep = vtep;
        _counters = counters;
        _portBatches = [.. ports.Select(p => p is AfPacketPort ? new SendBatch(Capacity, PortArenaBytes, vnetHeaders: true, addressed: false) : null)];
    }

    /// <inheritdoc />
    public bool PortCarriesOffloads(int port) => _ports[port].CarriesOffloads;

    /// <inheritdoc />
    public bool SendToPort(int port, ReadOnlySpan<byte> frame, in VirtioNetHeader offload)
    {
        var batch = _portBatches[port];
        if (batch is null)
        {
            return _ports[port].Send(frame, offload);
        }

        if (frame.Length > DirectSendLength)
        {
            // A super-frame is worth its own system call, and a copy into the arena is 64 KiB of
            // memmove: what is queued for the port goes first, then the frame straight from its buffer.
            if (batch.Count > 0)
            {
                FlushPort(port, batch);
            }

            return _ports[port].Send(frame, offload);
        }

        if (!batch.HasRoomFor(frame.Length))
        {
            FlushPort(port, batch);
        }

        batch.Add(frame, offload);
        return true;
    }

    /// <inheritdoc />
    public bool SendToVtep(RemoteVtep vtep, ReadOnlySpan<byte> ipv4Packet)
    {
        if (!_vtepBatch.Fits(ipv4Packet.Length))
        {
            return _vtep.Send(ipv4Packet, vtep.SocketAddress);
        }

        if (!_vtepBatch.HasRoomFor(ipv4Packet.Length))
        {
            FlushVtep();
        }

        _vtepBatch.Add(ipv4Packet, VirtioNetHeader.None, vtep.Address);
        return true;
    }

    /// <inheritdoc />
    public bool CanSendSegmented(int bucket) => _vtep.CanSendSegmented(bucket);

    /// <inheritdoc />
    public bool SendSegmentedToVtep(RemoteVtep vtep, int bucket, ReadOnlySpan<byte> datagrams, int datagramLength)
    {
        // What is queued for the underlay (maybe earlier frames of the same flow) leaves first.
        if (_vtepBatch.Count > 0)
        {
            FlushVtep();
        }

        return _vtep.SendSegmented(vtep.Address, bucket, datagrams, datagramLength);
    }

    /// <summary>Sends everything queued; called once a received batch has gone through the pipeline.</summary>
    public void Flush()
    {
        for (int i = 0; i < _portBatches.Length; i++)
        {
            if (_portBatches[i] is { Count: > 0 } batch)
            {
                FlushPort(i, batch);
            }
        }

        if (_vtepBatch.Count > 0)
        {
            FlushVtep();
        }
    }

    private void FlushPort(int port, SendBatch batch)
    {
        int refused = ((AfPacketPort)_ports[port]).Flush(batch);
        for (int i = 0; i < refused; i++)
        {
            _counters.Ports[port].CountDrop(DataPlaneDrop.SendFailed);
            _counters.Total.CountDrop(DataPlaneDrop.SendFailed);
        }
    }

    private void FlushVtep()
    {
        int refused = _vtep.Flush(_vtepBatch);
        for (int i = 0; i < refused; i++)
        {
            _counters.Vtep.CountDrop(DataPlaneDrop.SendFailed);
            _counters.Total.CountDrop(DataPlaneDrop.SendFailed);
        }
    }

    public void Dispose()
    {
        _vtepBatch.Dispose();
        foreach (var batch in _portBatches)
        {
            batch?.Dispose();
        }
    }
}
