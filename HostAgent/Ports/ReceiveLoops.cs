using Fabric.HostAgent.Diagnostics;
using Fabric.HostAgent.Forwarding;

namespace Fabric.HostAgent.Ports;

/// <summary>
/// One dedicated thread per local port and one for the VTEP socket, each receiving a batch at a
/// time and running every frame of it through the <see cref="DataPlane"/>. Each thread has its own
/// <see cref="FrameBatch"/> and <see cref="ForwardingScratch"/>, so nothing is shared between them
/// but the lock-free tables. Receives wake at least every poll interval (100 ms) to see a stop.
/// </summary>
internal sealed partial class ReceiveLoops(DataPlane dataPlane, ILogger<ReceiveLoops> logger) : IDisposable
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
            StartThread($"port {port.Name}", () => PortLoop(index, port));
        }

        StartThread("vtep", () => VtepLoop(vtep));
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

    private void StartThread(string name, Action loop)
    {
        var thread = new Thread(() =>
        {
            try
            {
                loop();
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

    private void PortLoop(int index, IFramePort port)
    {
        var batch = new FrameBatch(BatchSize, port.MaxFrameLength);
        var scratch = new ForwardingScratch();
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
        }
    }

    private void VtepLoop(VtepSocket vtep)
    {
        var batch = new FrameBatch(BatchSize);
        var scratch = new ForwardingScratch();
        while (!_stop.IsCancellationRequested)
        {
            int count = vtep.Receive(batch);
            for (int i = 0; i < count; i++)
            {
                if (batch.Length(i) == FrameBatch.Oversized)
                {
                    dataPlane.OversizedFromVtep();
                    continue;
                }

                dataPlane.FromVtep(batch.Source(i), batch.Slot(i), batch.Length(i), scratch);
            }
        }
    }

    public void Dispose() => _stop.Dispose();

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.ReceiveLoopFailed, Level = LogLevel.Critical, Message = "Receive loop {Loop} failed; it no longer forwards")]
        public static partial void LoopFailed(ILogger logger, string loop, Exception exception);
    }
}
