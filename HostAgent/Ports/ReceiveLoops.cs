using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Diagnostics;
using Fabric.HostAgent.Forwarding;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Ports;

/// <summary>
/// One dedicated thread per attached local port (started and stopped as ports attach and detach) and one for the VTEP socket, each receiving a batch at a
/// time and running every frame of it through the <see cref="DataPlane"/>. Each thread has its own
/// <see cref="FrameBatch"/> and <see cref="ForwardingScratch"/>, so nothing is shared between them
/// but the lock-free tables. Receives wake at least every poll interval (100 ms) to see a stop.
/// Each thread asks for SCHED_FIFO at <see cref="AgentOptions.ReceiveRealtimePriority"/> first and
/// keeps it while it is not saturated (<see cref="ReceivePriority"/>): on a busy host a woken receive
/// thread otherwise waits behind the time-sharing scheduler's slices, which is most of the agent's
/// latency tail.
/// </summary>
internal sealed partial class ReceiveLoops(DataPlane dataPlane, PortOutput output, IOptions<AgentOptions> options, ILogger<ReceiveLoops> logger) : IDisposable
{

    /// <summary>Frames or datagrams taken per receive call.</summary>
    public const int BatchSize = 32;

    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<int, PortThread> _portThreads = [];
    private Thread? _vtepThread;

    /// <summary>Starts the loop of the VTEP socket (set in the <see cref="PortOutput"/> before).</summary>
    public void StartVtep(VtepSocket vtep)
    {
        _vtepThread = StartThread("vtep", _stop.Token, priority => VtepLoop(vtep, priority));
    }

    /// <summary>
    /// Starts the loop of <paramref name="port"/>, attached in <paramref name="slot"/>. The loop owns
    /// the port from now on: it closes it when it ends (<see cref="StopPort"/> or <see cref="Stop"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The slot already has a running loop.</exception>
    public void StartPort(int slot, IFramePort port)
    {
        lock (_gate)
        {
            if (_portThreads.ContainsKey(slot))
            {
                throw new InvalidOperationException($"Port slot {slot} already has a receive loop.");
            }

            var stop = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var thread = StartThread($"port {port.Name}", stop.Token, priority => PortLoop(slot, port, stop.Token, priority), () =>
            {
                port.Dispose();
                ended.TrySetResult();
            });
            _portThreads[slot] = new PortThread(thread, stop, ended.Task);
        }
    }

    /// <summary>
    /// Ends the loop of the port in <paramref name="slot"/>; the task completes once its thread has
    /// left the data plane and closed the port (a receive wakes at least every poll interval, 100 ms).
    /// Completed at once for a slot without a loop.
    /// </summary>
    public Task StopPort(int slot)
    {
        PortThread? entry;
        lock (_gate)
        {
            if (!_portThreads.Remove(slot, out var found))
            {
                return Task.CompletedTask;
            }

            entry = found;
        }

        entry.Stop.Cancel();
        return entry.Ended.ContinueWith(_ => entry.Stop.Dispose(), TaskScheduler.Default);
    }

    /// <summary>Asks every loop to end and waits for each at most <paramref name="timeout"/>.</summary>
    public void Stop(TimeSpan timeout)
    {
        _stop.Cancel();
        PortThread[] ports;
        lock (_gate)
        {
            ports = [.. _portThreads.Values];
        }

        foreach (var port in ports)
        {
            port.Thread.Join(timeout);
        }

        _vtepThread?.Join(timeout);
    }

    private Thread StartThread(string name, CancellationToken stop, Action<ReceivePriority?> loop, Action? ended = null)
    {
        var thread = new Thread(() =>
        {
            try
            {
                loop(RaisePriority(name));
            }
            catch (Exception ex) when (!stop.IsCancellationRequested)
            {
                Log.LoopFailed(logger, name, ex);
            }
            finally
            {
                ended?.Invoke();
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return thread;
    }

    private void PortLoop(int index, IFramePort port, CancellationToken stop, ReceivePriority? priority)
    {
        var batch = new FrameBatch(BatchSize, port.MaxFrameLength);
        using var batching = new BatchingOutput(output, output.Vtep!, dataPlane.Counters);
        var scratch = new ForwardingScratch { Output = batching };
        int quickEmpty = 0;
        while (!stop.IsCancellationRequested)
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            int count = port.Receive(batch);
            if (count == 0)
            {
                // A receive returns empty after its poll interval; one that keeps returning at once
                // is failing (the interface was deleted under us, say, with its container): back off
                // rather than spin until the port is detached.
                quickEmpty = System.Diagnostics.Stopwatch.GetElapsedTime(started) < TimeSpan.FromMilliseconds(1) ? quickEmpty + 1 : 0;
                if (quickEmpty >= 100)
                {
                    stop.WaitHandle.WaitOne(100);
                }
            }

            for (int i = 0; i < count; i++)
            {
                if (batch.Length(i) == FrameBatch.Oversized)
                {
                    dataPlane.OversizedFromPort(index);
                    continue;
                }

                dataPlane.FromPort(index, batch.Slot(i), batch.Length(i), scratch, batch.Offload(i));
            }

            batching.Flush();
            priority?.AfterBatch();
        }
    }

    private void VtepLoop(VtepSocket vtep, ReceivePriority? priority)
    {
        // With UDP GRO a slot takes a flow's datagrams joined, up to 64 KiB.
        var batch = new FrameBatch(BatchSize, vtep.Coalesces ? FrameBatch.GsoMaxFrameLength : FrameBatch.DefaultMaxFrameLength);
        using var batching = new BatchingOutput(output, vtep, dataPlane.Counters);
        var scratch = new ForwardingScratch { Output = batching };
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
            batching.Flush();
            priority?.AfterBatch();
        }
    }

    public void Dispose() => _stop.Dispose();

    private sealed record PortThread(Thread Thread, CancellationTokenSource Stop, Task Ended);

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
