using System.Net;
using Fabric.Grains;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Diagnostics;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.LocalPorts;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Control;

/// <summary>
/// Keeps the <see cref="ClusterReplica"/> in step with the grains and the data plane's tables in
/// step with the replica. A session starts with a full sync: read the switch, register the host
/// (through <see cref="Heartbeat"/>), subscribe to the segment and MAC table of every VNI the ports
/// carry and take their snapshots, and queue every local MAC for publishing again. Then, connected,
/// it applies pushed deltas as they come, fetches a snapshot for a VNI whose delta showed a gap or a
/// new activation, renews subscriptions on a timer or at once when the membership changed, and
/// watches the switch configuration. A failure ends the session; the next one starts a second later.
/// The data plane forwards on the last tables meanwhile.
/// </summary>
internal sealed partial class ReplicaSync : BackgroundService, ISegmentObserver, IMacTableObserver
{
    private readonly IClusterClient _client;
    private readonly AgentOptions _options;
    private readonly Heartbeat _heartbeat;
    private readonly DataPlane _dataPlane;
    private readonly ControlSignals _signals;
    private readonly TimeProvider _time;
    private readonly ILogger<ReplicaSync> _logger;
    private readonly IPAddress _vtep;
    private readonly string _version = typeof(ReplicaSync).Assembly.GetName().Version?.ToString() ?? "0";
    private readonly Lock _gate = new();
    private readonly ClusterReplica _replica;
    private readonly PortRegistry _ports;
    private readonly Management.ManagementAddress _management;

    // Orleans holds client observers weakly: these fields keep the references alive
    // (docs/architecture.md, "Known pitfalls on Linux").
    private ISegmentObserver? _segmentObserver;
    private IMacTableObserver? _macObserver;

    private uint[] _subscribed = [];
    private bool _everConnected;
    private bool _outageReported;
    private Task<SwitchConfig?>? _configCheck;

    public ReplicaSync(IClusterClient client, IOptions<AgentOptions> options, Heartbeat heartbeat, DataPlane dataPlane, PortRegistry ports, ControlSignals signals, TimeProvider time, ILogger<ReplicaSync> logger, Management.ManagementAddress management)
    {
        _ports = ports;
        _management = management;
        _client = client;
        _options = options.Value;
        _heartbeat = heartbeat;
        _dataPlane = dataPlane;
        _signals = signals;
        _time = time;
        _logger = logger;
        _vtep = IPAddress.Parse(_options.VtepAddress);
        _replica = new ClusterReplica(_options.HostId, Wire.Ipv4Address.FromIPAddress(_vtep), [], _options.VxlanPort, _options.MaxPorts);
        _replica.SetPorts(PortRegistry.Bindings(ports.Ports));
        ports.Changed += OnPortsChanged;
    }

    /// <summary>
    /// A port was attached or detached: the ports are mapped again and the tables published at once
    /// (no cluster call), then the loop registers the new port list (<see cref="SyncPortsAsync"/>).
    /// </summary>
    private void OnPortsChanged()
    {
        var unknown = new List<PortForwarding>();
        lock (_gate)
        {
            _replica.SetPorts(PortRegistry.Bindings(_ports.Ports));
            if (_replica.Switch is { } config)
            {
                _replica.Configure(config, unknown);
                PublishLocked(new LocalEffects());
            }
        }

        _signals.RequestPortSync();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _segmentObserver = _client.CreateObjectReference<ISegmentObserver>(this);
        _macObserver = _client.CreateObjectReference<IMacTableObserver>(this);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                _signals.BeginSession();
                await FullSyncAsync();
                Log.Synchronized(_logger, _options.HostId, _subscribed.Length, _everConnected);
                _signals.Connected = true;
                _everConnected = true;
                _outageReported = false;
                await RunConnectedAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                if (!_outageReported)
                {
                    // Once per outage, not per attempt.
                    Log.Unreachable(_logger, ex.GetType().Name, ClusterCalls.FirstLine(ex.Message));
                    _outageReported = true;
                }

                _signals.Connected = false;
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        await UnsubscribeAsync();
    }

    private async Task FullSyncAsync()
    {
        var config = await _client.GetGrain<ISwitchGrain>(_options.Switch).GetAsync().Bounded(_options, _time)
            ?? throw new FabricNotFoundException("switch", _options.Switch);
        var unknown = new List<PortForwarding>();
        IReadOnlyList<HostPort> hostPorts;
        long portsVersion;
        lock (_gate)
        {
            _ports.Switch = config;
            (portsVersion, var ports) = _ports.Current;
            _replica.SetPorts(PortRegistry.Bindings(ports));
            hostPorts = _replica.Configure(config, unknown);
            _subscribed = [.. _replica.Vnis];
        }

        LogUnknown(unknown);
        await _heartbeat.RegisterAsync(new HostRegistration(_vtep, _version, _options.Switch, hostPorts, _management.Registered));
        ForgetUncarried();
        await SubscribeAsync(_subscribed, replace: true);
        _ports.MarkRegistered(portsVersion);

        // The MAC tables may have lost us (host declared dead, or a silo restarted on memory
        // storage): publish every MAC we hold again, with its addresses; learning is idempotent.
        _dataPlane.Macs.RequeueAll();
        _dataPlane.External.RequeueAll();
    }

    private void LogUnknown(List<PortForwarding> unknown)
    {
        foreach (var port in unknown)
        {
            Log.PortWithoutSegment(_logger, port.Name, _replica.Bindings.FirstOrDefault(b => b.Slot == port.Index).Binding?.PortGroup ?? "?");
        }
    }

    /// <summary>
    /// VNIs no port carries any more end here: their counters and what was learned behind external
    /// VTEPs in them (a VNI used again later is another segment); and what a port learned in a VNI it
    /// no longer carries (it moved to another port group, or was detached) is not its any more.
    /// </summary>
    private void ForgetUncarried()
    {
        IReadOnlySet<uint> vnis;
        lock (_gate)
        {
            vnis = _replica.Vnis.ToHashSet();
        }

        _dataPlane.Counters.ForgetVnisOtherThan(vnis);
        _dataPlane.External.ForgetVnisOtherThan(vnis);
        foreach (var (key, entry) in _dataPlane.Macs.Entries)
        {
            bool carried;
            lock (_gate)
            {
                carried = _replica.Carries(entry.Port, key.Vni);
            }

            if (!carried)
            {
                _dataPlane.Macs.Forget(key.Vni, key.Mac);
            }
        }
    }

    /// <summary>
    /// Registers the current port list (ports were attached or detached; the tables were published
    /// already), subscribes to the segments and MAC tables of VNIs the ports carry now and did not
    /// before, and leaves those of VNIs no port carries. The host grain withdraws the MACs learned on
    /// ports that are gone. A failure ends the session: the next full sync does it all.
    /// </summary>
    private async Task SyncPortsAsync()
    {
        var unknown = new List<PortForwarding>();
        IReadOnlyList<HostPort> hostPorts;
        long version;
        uint[] added, removed;
        lock (_gate)
        {
            (version, var ports) = _ports.Current;
            _replica.SetPorts(PortRegistry.Bindings(ports));
            hostPorts = _replica.Configure(_replica.Switch!, unknown);
            uint[] now = [.. _replica.Vnis];
            added = [.. now.Except(_subscribed)];
            removed = [.. _subscribed.Except(now)];
            _subscribed = now;
            PublishLocked(new LocalEffects());
        }

        LogUnknown(unknown);
        await _heartbeat.RegisterAsync(new HostRegistration(_vtep, _version, _options.Switch, hostPorts, _management.Registered));
        ForgetUncarried();
        if (added.Length != 0)
        {
            await SubscribeAsync(added, replace: true);
        }

        foreach (uint vni in removed)
        {
            // Best effort: an unrenewed subscription expires on its own.
            _ = _client.GetGrain<ISegmentGrain>(vni).UnsubscribeAsync(_segmentObserver!);
            _ = _client.GetGrain<IMacTableGrain>(vni).UnsubscribeAsync(_macObserver!);
        }

        _ports.MarkRegistered(version);
    }

    /// <summary>
    /// Every <see cref="AgentOptions.HeartbeatInterval"/> at most, or at once on a signal: ends the
    /// session on a heartbeat failure (by throwing) or a resync request (by returning), fetches
    /// snapshots for stale VNIs, renews subscriptions when due or asked, and watches the switch
    /// configuration without ever waiting on it.
    /// </summary>
    private async Task RunConnectedAsync(CancellationToken stoppingToken)
    {
        var now = _time.GetUtcNow();
        var nextRefresh = now + _options.SubscriptionRefreshInterval;
        var nextConfigCheck = now + _options.HeartbeatInterval;
        _configCheck = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            await _signals.WaitAsync(_options.HeartbeatInterval, stoppingToken);
            if (_signals.TakeFailure() is { } failure)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }

            if (_signals.TakeResync() is { } reason)
            {
                Log.Resync(_logger, reason);
                return;
            }

            if (ConfigurationChanged())
            {
                Log.Resync(_logger, "the switch configuration changed");
                return;
            }

            if (_signals.TakePortSync())
            {
                await SyncPortsAsync();
            }

            await ResnapshotStaleAsync();

            now = _time.GetUtcNow();
            if (_signals.TakeRefresh() || now >= nextRefresh)
            {
                // Renewing returns each grain's snapshot; one from a new activation replaces ours.
                nextRefresh = now + _options.SubscriptionRefreshInterval;
                await SubscribeAsync(_subscribed, replace: false);
            }

            if (_configCheck is null && now >= nextConfigCheck)
            {
                nextConfigCheck = now + _options.HeartbeatInterval;
                _configCheck = _client.GetGrain<ISwitchGrain>(_options.Switch).GetAsync().Bounded(_options, _time);
            }
        }
    }

    /// <summary>
    /// Whether the last switch read (started on an earlier round, never awaited here) found a
    /// configuration other than the one the replica holds. A switch grain that does not answer
    /// (say, stuck on a slow storage write) is simply asked again later.
    /// </summary>
    private bool ConfigurationChanged()
    {
        if (_configCheck is not { IsCompleted: true } check)
        {
            return false;
        }

        _configCheck = null;
        if (!check.IsCompletedSuccessfully)
        {
            _ = check.Exception; // observed
            return false;
        }

        lock (_gate)
        {
            return check.Result is not { } config || config.Version != _replica.Switch?.Version;
        }
    }

    /// <summary>
    /// Subscribes (or renews) on the segment and MAC table of each of <paramref name="vnis"/> (all
    /// of ours, or those new to the host). The answers are collected first and applied together: a
    /// failure half way leaves the replica as it was, never half cleared, so the data plane keeps
    /// forwarding on the last complete tables.
    /// </summary>
    private async Task SubscribeAsync(IReadOnlyCollection<uint> vnis, bool replace)
    {
        var segments = new List<SegmentSnapshot>();
        var tables = new List<MacTableSnapshot>();
        foreach (uint vni in vnis)
        {
            segments.Add(await _client.GetGrain<ISegmentGrain>(vni).SubscribeAsync(_segmentObserver!).Bounded(_options, _time));
            tables.Add(await _client.GetGrain<IMacTableGrain>(vni).SubscribeAsync(_macObserver!).Bounded(_options, _time));
        }

        Apply(segments, tables, replace);
    }

    private async Task ResnapshotStaleAsync()
    {
        uint[] stale;
        lock (_gate)
        {
            if (!_replica.HasStale)
            {
                return;
            }

            stale = _replica.TakeStale();
        }

        Log.Resnapshot(_logger, string.Join(", ", stale));
        var segments = new List<SegmentSnapshot>();
        var tables = new List<MacTableSnapshot>();
        foreach (uint vni in stale)
        {
            segments.Add(await _client.GetGrain<ISegmentGrain>(vni).GetAsync().Bounded(_options, _time));
            tables.Add(await _client.GetGrain<IMacTableGrain>(vni).GetSnapshotAsync().Bounded(_options, _time));
        }

        Apply(segments, tables, replace: true);
    }

    private void Apply(List<SegmentSnapshot> segments, List<MacTableSnapshot> tables, bool replace)
    {
        lock (_gate)
        {
            var effects = new LocalEffects();
            foreach (var segment in segments)
            {
                _replica.ApplySnapshot(segment, replace);
            }

            foreach (var table in tables)
            {
                _replica.ApplySnapshot(table, replace, effects);
            }

            PublishLocked(effects);
        }
    }

    /// <inheritdoc />
    public void OnSegmentChanged(SegmentDelta delta)
    {
        lock (_gate)
        {
            After(_replica.Apply(delta), new LocalEffects());
        }
    }

    /// <inheritdoc />
    public void OnMacTableChanged(MacTableDelta delta)
    {
        lock (_gate)
        {
            var effects = new LocalEffects();
            After(_replica.Apply(delta, effects), effects);
        }
    }

    private void After(DeltaOutcome outcome, LocalEffects effects)
    {
        if (outcome == DeltaOutcome.Gap)
        {
            _signals.Wake(); // the loop fetches the snapshot
        }
        else if (outcome == DeltaOutcome.Applied)
        {
            PublishLocked(effects);
        }
    }

    /// <summary>
    /// Carries out <paramref name="effects"/> and publishes the rebuilt tables, under the lock so
    /// two deltas applied one after the other are published in that order, never the older last.
    /// Local entries go first: a MAC that moved away must not be delivered locally once the new
    /// tables send it to its new VTEP.
    /// </summary>
    private void PublishLocked(LocalEffects effects)
    {
        effects.ApplyTo(_dataPlane.Macs);
        if (_replica.Build(_dataPlane.Counters) is { } tables)
        {
            _dataPlane.Publish(tables);
        }
    }

    private async Task UnsubscribeAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            foreach (uint vni in _subscribed)
            {
                await _client.GetGrain<ISegmentGrain>(vni).UnsubscribeAsync(_segmentObserver!).WaitAsync(cts.Token);
                await _client.GetGrain<IMacTableGrain>(vni).UnsubscribeAsync(_macObserver!).WaitAsync(cts.Token);
            }
        }
        catch (Exception)
        {
            // Shutting down: the subscriptions expire on their own.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.Synchronized, Level = LogLevel.Information, Message = "Host {HostId} synchronized with the cluster: {Vnis} segment(s) (re-sync after an outage: {Again})")]
        public static partial void Synchronized(ILogger logger, string hostId, int vnis, bool again);

        [LoggerMessage(EventId = AgentEventIds.Unreachable, Level = LogLevel.Warning, Message = "Control plane unreachable ({Kind}: {Reason}); forwarding on the cached tables and queueing learned MACs until it is back")]
        public static partial void Unreachable(ILogger logger, string kind, string reason);

        [LoggerMessage(EventId = AgentEventIds.Resync, Level = LogLevel.Information, Message = "Re-synchronizing: {Reason}")]
        public static partial void Resync(ILogger logger, string reason);

        [LoggerMessage(EventId = AgentEventIds.PortWithoutSegment, Level = LogLevel.Warning, Message = "Port {Port}: port group '{PortGroup}' does not exist on the switch; its frames are dropped (NoSegment)")]
        public static partial void PortWithoutSegment(ILogger logger, string port, string portGroup);

        [LoggerMessage(EventId = AgentEventIds.Resnapshot, Level = LogLevel.Debug, Message = "Fetching the snapshot of VNI(s) {Vnis}: a delta showed a gap or a new activation")]
        public static partial void Resnapshot(ILogger logger, string vnis);
    }
}
