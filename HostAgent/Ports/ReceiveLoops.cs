using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Diagnostics;
using Fabric.HostAgent.Forwarding;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Ports;

/// <summary>
/// One dedicated thread per local port and one for the VTEP socket, each receiving a batch at a
/// time and running every frame of it through the <see cref="DataPlane"/>. Each thread has its own
/// <see cref="FrameBatch"/> and <see cref="ForwardingScratch"/>, so nothing is shared between them
/// but the lock-free tables. Receives wake at least every poll interval (100 ms) to see a stop.
/// Each thread asks for SCHED_FIFO at <see cref="AgentOptions.ReceiveRealtimePriority"/> first and
/// keeps it while it is not saturated (<see cref="ReceivePriority"/>): on a busy host a woken receive
/// thread otherwise waits behind the time-sharing scheduler's slices, which is most of the agent's
/// latency tail.
/// </summary>
internal sealed partial class ReceiveLoops(DataPlane dataPlane, IOptions<AgentOptions> options, ILogger<ReceiveLoops> logger) : IDisposable
{

    /// <summary>Frames or datagrams taken per receive call.</summary>
    public const int BatchSize = 32;

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Thread> _threads = [];

    /// <summary>Starts a loop per port (port index = position in <paramref name="ports"/>) and one for <paramref name="vtep"/>.</summary>
    public void Start(IReadOnlyList<IFramePort> ports, VtepSocket vtep)
    {
        for (int i = 0; i < ports.Count; i++)
        {
            int index = i;
            var port = ports[i];
            StartThread($"port {port.Name}", priority => PortLoop(index, port, ports, vtep, priority));
        }

        StartThread("vtep", priority => VtepLoop(vtep, ports, priority));
    }

    /// <summary>Asks every loop to end and waits for each at most <paramref name="timeout"/>.</summary>
    public void Stop(TimeSpan timeout)
    {
        _stop.Cancel();
        foreach (var thread in _threads)
        {
            thread.Join(timeout);
        }
    }

    private void StartThread(string name, Action<ReceivePriority?> loop)
    {
        var thread = new Thread(() =>
        {
            try
            {
                loop(RaisePriority(name));
            }
            catch (Exception ex) when (!_stop.IsCancellationRequested)
            {
                Log.LoopFailed(logger, name, ex);
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        _threads.Add(thread);
        thread.Start();
    }

    private void PortLoop(int index, IFramePort port, IReadOnlyList<IFramePort> ports, VtepSocket vtep, ReceivePriority? priority)
    {
        var batch = new FrameBatch(BatchSize, port.MaxFrameLength);
        using var output = new BatchingOutput(ports, vtep, dataPlane.Counters);
        var scratch = new ForwardingScratch { Output = output };
        while (!_stop.IsCancellationRequested)
        {
            int count = port.Receive(batch);
            for (int i = 0; i < count; i++)
            {
                if (batch.Length(i) == FrameBatch.Oversized)
                {
                    dataPlane.OversizedFromPort(index);
                    continue;
                }

                dataPlane.FromPort(index, batch.Slot(i), batch.Length(i), scratch, batch.Offload(i));
            }

            output.Flush();
            priority?.AfterBatch();
        }
    }

    private void VtepLoop(VtepSocket vtep, IReadOnlyList<IFramePort> ports, ReceivePriority? priority)
    {
        // With UDP GRO a slot takes a flow's datagrams joined, up to 64 KiB.
        var batch = new FrameBatch(BatchSize, vtep.Coalesces ? FrameBatch.GsoMaxFrameLength : FrameBatch.DefaultMaxFrameLength);
        using var output = new BatchingOutput(ports, vtep, dataPlane.Counters);
        var scratch = new ForwardingScratch { Output = output };
        while (!_stop.IsCancellationRequested)
        {
            int count = vtep.Receive(batch);
            for (int i = 0; i < count; i++)
            {
                int length = batch.Length(i), size = batch.SegmentSize(i);
                if (size <= 0 || size >= length)
                {
                    // One datagram; longer than any frame a port takes (a jumbo frame's), it is dropped.
                    if (length == FrameBatch.Oversized || length > FrameBatch.DefaultMaxFrameLength)
                    {
                        dataPlane.OversizedFromVtep();
                        continue;
                    }

                    dataPlane.FromVtep(batch.Source(i), batch.Slot(i), length, scratch);
                    continue;
                }

                // Datagrams UDP GRO joined: each goes through the pipeline on its own; the bytes in
                // front of one (the previous datagram's) serve as its headroom, which it only reads.
                var slot = batch.Slot(i);
                for (int offset = 0; offset < length; offset += size)
                {
                    dataPlane.FromVtep(batch.Source(i), slot.Slice(offset), Math.Min(size, length - offset), scratch);
                }
            }

            dataPlane.FlushCoalesced(scratch);
            output.Flush();
            priority?.AfterBatch();
        }
    }

    public void Dispose() => _stop.Dispose();

    /// <summary>The calling receive thread's scheduling (see <see cref="ReceivePriority"/>), or null on normal scheduling.</summary>
    private ReceivePriority? RaisePriority(string name)
    {
        var priority = ReceivePriority.TryRaise(options.Value.ReceiveRealtimePriority, out string? error);
        if (error is not null)
        {
            Log.PriorityRefused(logger, name, options.Value.ReceiveRealtimePriority, error);
        }

        return priority;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.RealtimePriorityRefused, Level = LogLevel.Warning, Message = "Receive loop {Loop} stays on normal scheduling: SCHED_FIFO priority {Priority} refused ({Error}); give the agent CAP_SYS_NICE or set Fabric:Agent:ReceiveRealtimePriority to 0")]
        public static partial void PriorityRefused(ILogger logger, string loop, int priority, string error);

        [LoggerMessage(EventId = AgentEventIds.ReceiveLoopFailed, Level = LogLevel.Critical, Message = "Receive loop {Loop} failed; it no longer forwards")]
        public static partial void LoopFailed(ILogger logger, string loop, Exception exception);
    }
}
