using System.Net;
using System.Text.Json;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Ports;
using Fabric.HostAgent.Wire;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Forwarding;

/// <summary>
/// Owns the host's data plane: opens the local ports and the VTEP socket (inside the configured
/// network namespace), runs one receive thread per port and one for the VTEP, and writes a status
/// file with the counters. It starts before, and does not depend on, the cluster connection.
/// </summary>
public sealed partial class DataPlaneHost(IOptions<AgentOptions> options, ILogger<DataPlaneHost> logger) : IHostedService, IDataPlaneOutput, IDisposable
{
    private const int BatchSize = 32;

    private readonly AgentOptions _options = options.Value;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Thread> _threads = [];
    private IFramePort[] _ports = [];
    private VtepSocket? _vtep;
    private DataPlane? _dataPlane;
    private Timer? _statusTimer;

    public Task Started => _started.Task;

    public DataPlane DataPlane => _dataPlane ?? throw new InvalidOperationException("the data plane has not started");

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var address = IPAddress.Parse(_options.VtepAddress);
        (_ports, _vtep) = NetworkNamespace.Run(_options.NetworkNamespace, () =>
        {
            var opened = new List<IFramePort>();
            try
            {
                foreach (var binding in _options.Ports)
                {
                    opened.Add(PcapPort.Open(binding.Interface));
                }

                return (opened.ToArray(), VtepSocket.Open(address, _options.VxlanPort));
            }
            catch
            {
                opened.ForEach(p => p.Dispose());
                throw;
            }
        });

        var ports = _options.Ports.Select((p, i) => new PortForwarding { Index = i, Name = p.Interface, Trunk = false }).ToArray();
        var counters = new DataPlaneCounters(ports.Length);
        _dataPlane = new DataPlane(
            WarmStart(counters) ?? ForwardingSnapshot.Empty(ports),
            new LocalMacTable(ports.Length),
            counters,
            this,
            Ipv4Address.FromIPAddress(address),
            (ushort)_options.VxlanPort);

        for (int i = 0; i < _ports.Length; i++)
        {
            int index = i;
            StartThread($"port {_ports[i].Name}", () => PortLoop(index));
        }

        StartThread("vtep", VtepLoop);
        if (_options.StatusFile is { Length: > 0 })
        {
            _statusTimer = new Timer(_ => WriteStatus(), null, TimeSpan.Zero, TimeSpan.FromSeconds(1));
        }

        Log.Started(logger, _options.HostId, _options.VtepAddress, _options.VxlanPort, _ports.Length, _options.NetworkNamespace ?? "(own)");
        _started.TrySetResult();
        return Task.CompletedTask;
    }

    /// <summary>
    /// The tables saved before a restart (<see cref="AgentOptions.ForwardingCacheFile"/>), if recent
    /// and ours: the data plane forwards on them from its first frame, before the Orleans client has
    /// even connected; the first snapshot from the cluster replaces them.
    /// </summary>
    private ForwardingSnapshot? WarmStart(DataPlaneCounters counters)
    {
        if (_options.ForwardingCacheFile is not { Length: > 0 } path)
        {
            return null;
        }

        var snapshot = ForwardingCache.Load(
            path,
            _options.HostId,
            _options.Switch,
            [.. _options.Ports.Select(p => p.Interface)],
            _options.ForwardingCacheMaxAge,
            DateTimeOffset.UtcNow,
            counters,
            address => new RemoteVtep(address, _options.VxlanPort),
            out string reason);
        if (snapshot is null)
        {
            Log.ColdStart(logger, path, reason);
            return null;
        }

        Log.WarmStart(logger, path, reason, snapshot.Segments.Count, snapshot.Segments.Values.Sum(s => s.RemoteMacs.Count));
        return snapshot;
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

    private void PortLoop(int index)
    {
        var port = _ports[index];
        var batch = new FrameBatch(BatchSize);
        var scratch = new ForwardingScratch();
        var dataPlane = DataPlane;
        while (!_stop.IsCancellationRequested)
        {
            int count = port.Receive(batch);
            for (int i = 0; i < count; i++)
            {
                dataPlane.FromPort(index, batch.Slot(i), batch.Length(i), scratch);
            }
        }
    }

    private void VtepLoop()
    {
        var batch = new FrameBatch(BatchSize);
        var scratch = new ForwardingScratch();
        var dataPlane = DataPlane;
        while (!_stop.IsCancellationRequested)
        {
            int count = _vtep!.Receive(batch);
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

    public bool SendToPort(int port, ReadOnlySpan<byte> frame) => _ports[port].Send(frame);

    public bool SendToVtep(RemoteVtep vtep, ReadOnlySpan<byte> ipv4Packet) => _vtep!.Send(ipv4Packet, vtep.SocketAddress);

    /// <summary>Counters, tables and flood lists as JSON, for operators and tests (atomically replaced).</summary>
    public object Status()
    {
        var dp = DataPlane;
        var snapshot = dp.Snapshot;
        return new
        {
            hostId = _options.HostId,
            generation = snapshot.Generation,
            total = dp.Counters.Total.Snapshot(),
            vtep = dp.Counters.Vtep.Snapshot(),
            ports = snapshot.Ports.Select(p => new { name = p.Name, trunk = p.Trunk, macs = dp.Macs.CountOnPort(p.Index), counters = dp.Counters.Ports[p.Index].Snapshot() }),
            segments = snapshot.Segments.Values.OrderBy(s => s.Vni).Select(s => new
            {
                vni = s.Vni,
                localPorts = s.LocalPorts.Select(i => snapshot.Ports[i].Name),
                floodList = s.FloodList.Select(v => Ipv4Address.Format(v.Address)),
                remoteMacs = s.RemoteMacs.ToDictionary(kv => new Addressing.MacAddress(kv.Key).ToString(), kv => Ipv4Address.Format(kv.Value.Address)),
                arpBindings = s.ArpBindings.ToDictionary(kv => Ipv4Address.Format(kv.Key), kv => new Addressing.MacAddress(kv.Value).ToString()),
                counters = s.Counters.Snapshot(),
            }),
            localMacs = dp.Macs.Entries.Select(e => new { vni = e.Key.Vni, mac = new Addressing.MacAddress(e.Key.Mac).ToString(), port = snapshot.Ports[e.Value.Port].Name }),
        };
    }

    private void WriteStatus()
    {
        try
        {
            string path = _options.StatusFile!;
            string temp = path + ".tmp";
            File.WriteAllText(temp, JsonSerializer.Serialize(Status(), new JsonSerializerOptions { WriteIndented = true }));
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.StatusFailed(logger, ex.Message);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stop.Cancel();
        if (_statusTimer is not null)
        {
            await _statusTimer.DisposeAsync();
            WriteStatus();
        }

        foreach (var thread in _threads)
        {
            // Receive loops wake at least every poll interval (100 ms).
            thread.Join(TimeSpan.FromSeconds(2));
        }
    }

    public void Dispose()
    {
        foreach (var port in _ports)
        {
            port.Dispose();
        }

        _vtep?.Dispose();
        _stop.Dispose();
        _statusTimer?.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Data plane of host {HostId} up: VTEP {Vtep}:{Port}, {Ports} local port(s), network namespace {Namespace}")]
        public static partial void Started(ILogger logger, string hostId, string vtep, int port, int ports, string @namespace);

        [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Warm start: forwarding on the tables in {Path} ({Reason}; {Segments} segment(s), {RemoteMacs} remote MAC(s)) until the cluster answers")]
        public static partial void WarmStart(ILogger logger, string path, string reason, int segments, int remoteMacs);

        [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Cold start: not using {Path} ({Reason}); forwarding starts with the first snapshot from the cluster")]
        public static partial void ColdStart(ILogger logger, string path, string reason);

        [LoggerMessage(EventId = 1002, Level = LogLevel.Critical, Message = "Receive loop {Loop} failed")]
        public static partial void LoopFailed(ILogger logger, string loop, Exception exception);

        [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Could not write the status file: {Reason}")]
        public static partial void StatusFailed(ILogger logger, string reason);
    }
}
