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

    /// <summary>
    /// How many ports one receive thread keeps a send batch for (each holds a 512 KiB arena, made
    /// the first time the thread sends to the port); sends to further ports go out at once. Bounds a
    /// thread's memory on a host with hundreds of ports.
    /// </summary>
    public const int MaxBatchedPorts = 16;

    private const int PortArenaBytes = 512 * 1024;

    /// <summary>Frames longer than this (GSO super-frames) are sent at once rather than copied into the batch.</summary>
    public const int DirectSendLength = 16 * 1024;
    private const int VtepArenaBytes = Capacity * (FrameBatch.DefaultMaxFrameLength + 64);

    private readonly PortOutput _ports;
    private readonly VtepSocket _vtep;
    private readonly DataPlaneCounters _counters;
    private readonly SendBatch?[] _portBatches;
    private readonly int[] _pending = new int[MaxBatchedPorts];
    private readonly bool[] _queued;
    private readonly SendBatch _vtepBatch = new(Capacity, VtepArenaBytes, vnetHeaders: false, addressed: true);
    private int _pendingCount;
    private int _batchCount;

    public BatchingOutput(PortOutput ports, VtepSocket vtep, DataPlaneCounters counters)
    {
        _ports = ports;
        _vtep = vtep;
        _counters = counters;
        _portBatches = new SendBatch?[ports.Capacity];
        _queued = new bool[ports.Capacity];
    }

    /// <inheritdoc />
    public bool PortCarriesOffloads(int port) => _ports.PortCarriesOffloads(port);

    /// <inheritdoc />
    public bool SendToPort(int port, ReadOnlySpan<byte> frame, in VirtioNetHeader offload)
    {
        if (_ports.Port(port) is not { } target)
        {
            return false;
        }

        var batch = target is AfPacketPort ? BatchFor(port) : null;
        if (batch is null)
        {
            return target.Send(frame, offload);
        }

        if (frame.Length > DirectSendLength)
        {
            // A super-frame is worth its own system call, and a copy into the arena is 64 KiB of
            // memmove: what is queued for the port goes first, then the frame straight from its buffer.
            if (batch.Count > 0)
            {
                FlushPort(port, batch);
            }

            return target.Send(frame, offload);
        }

        if (!batch.HasRoomFor(frame.Length))
        {
            FlushPort(port, batch);
        }

        if (!_queued[port])
        {
            // At most one entry per port with a batch, so at most MaxBatchedPorts.
            _queued[port] = true;
            _pending[_pendingCount++] = port;
        }

        batch.Add(frame, offload);
        return true;
    }

    /// <summary>The thread's send batch for slot <paramref name="port"/>, made at the first send; null once <see cref="MaxBatchedPorts"/> are made.</summary>
    private SendBatch? BatchFor(int port)
    {
        var batch = _portBatches[port];
        if (batch is null && _batchCount < MaxBatchedPorts)
        {
            batch = _portBatches[port] = new SendBatch(Capacity, PortArenaBytes, vnetHeaders: true, addressed: false);
            _batchCount++;
        }

        return batch;
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
        for (int i = 0; i < _pendingCount; i++)
        {
            int port = _pending[i];
            _queued[port] = false;
            if (_portBatches[port] is { Count: > 0 } batch)
            {
                FlushPort(port, batch);
            }
        }

        _pendingCount = 0;

        if (_vtepBatch.Count > 0)
        {
            FlushVtep();
        }
    }

    private void FlushPort(int port, SendBatch batch)
    {
        // The port may have been detached (or the slot given to another backend) since the frames
        // were queued: they are dropped, counted like a refused send.
        int refused;
        if (_ports.Port(port) is AfPacketPort target)
        {
            refused = target.Flush(batch);
        }
        else
        {
            refused = batch.Count;
            batch.Clear();
        }

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
