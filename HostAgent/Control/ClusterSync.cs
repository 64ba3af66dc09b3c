using System.Net;
using Fabric.Addressing;
using Fabric.Grains;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Forwarding;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Control;

/// <summary>
/// Keeps the data plane's forwarding cache in step with the grains: registers the host,
/// heartbeats, subscribes to the segments and MAC tables of its VNIs, applies pushed deltas, asks
/// for a snapshot on a version gap or a new activation epoch, and publishes learned MACs in
/// batches. When the cluster is unreachable the data plane goes on forwarding on the last
/// snapshot; this loop says so once and re-syncs everything when the cluster is back.
/// </summary>
public sealed partial class ClusterSync : BackgroundService, ISegmentObserver, IMacTableObserver
{
    private readonly IClusterClient _client;
    private readonly AgentOptions _options;
    private readonly DataPlaneHost _host;
    private readonly TimeProvider _time;
    private readonly ILogger<ClusterSync> _logger;
    private readonly IPAddress _vtep;
    private readonly string _version = typeof(ClusterSync).Assembly.GetName().Version?.ToString() ?? "0";
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Dictionary<uint, SegmentSnapshot> _segments = [];
    private readonly Dictionary<uint, Dictionary<MacAddress, MacEntry>> _macs = [];
    private readonly Dictionary<uint, (Guid Epoch, long Version)> _macVersions = [];
    private readonly Dictionary<uint, Dictionary<IPAddress, MacAddress>> _bindings = [];
    private readonly HashSet<uint> _stale = [];
    private readonly Dictionary<MacKey, LearnedMac> _unpublished = [];
    private readonly Dictionary<uint, RemoteVtep> _vtepCache = [];

    // Orleans holds client observers weakly: these fields keep the references alive (DESIGN.md).
    private ISegmentObserver? _segmentObserver;
    private IMacTableObserver? _macObserver;

    private SwitchConfig? _switch;
    private PortForwarding[] _ports = [];
    private HashSet<uint> _subscribed = [];
    private bool _connected;
    private bool _everConnected;
    private bool _outageReported;

    // Set by the heartbeat loop, taken by the sync loop (which alone touches the subscriptions).
    private bool _registered; // since the first registration; heartbeats go on through outages
    private string? _resyncReason;
    private Exception? _heartbeatFailure;
    private int _refreshRequested;
    private long _membershipVersion = -1;

    private bool _cacheDirty;
    private bool _cacheFailureReported;
    private DateTimeOffset _nextCacheSave;

    public ClusterSync(IClusterClient client, IOptions<AgentOptions> options, DataPlaneHost host, TimeProvider time, ILogger<ClusterSync> logger)
    {
        _client = client;
        _options = options.Value;
        _host = host;
        _time = time;
        _logger = logger;
        _vtep = IPAddress.Parse(_options.VtepAddress);
    }

    /// <summary>True once the cache has been filled from the cluster at least once and is current.</summary>
    public bool Synchronized => Volatile.Read(ref _connected);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await _host.Started.WaitAsync(stoppingToken);
        _segmentObserver = _client.CreateObjectReference<ISegmentObserver>(this);
        _macObserver = _client.CreateObjectReference<IMacTableObserver>(this);

        // Heartbeats run on their own: a sync call stuck on a silo that just died must not keep the
        // host from being heard, or it would be declared dead and withdrawn while it forwards.
        var heartbeats = HeartbeatLoopAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                Volatile.Write(ref _resyncReason, null);
                Volatile.Write(ref _heartbeatFailure, null);
                await FullSyncAsync(stoppingToken);
                Log.Synchronized(_logger, _options.HostId, _subscribed.Count, _everConnected);
                Volatile.Write(ref _connected, true);
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
                    Log.Unreachable(_logger, ex.GetType().Name, FirstLine(ex.Message));
                    _outageReported = true;
                }

                Volatile.Write(ref _connected, false);
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

        await heartbeats;
        await UnregisterObserversAsync();
    }

    /// <summary>
    /// Every <see cref="AgentOptions.HeartbeatInterval"/> while registered: tells the host grain we
    /// are alive and checks, from its answer, whether the sync loop must start over (declared dead
    /// meanwhile, switch configuration changed), renew its subscriptions (a silo joined or died, so
    /// grains may have new activations without our observers), or treat the cluster as unreachable.
    /// </summary>
    private async Task HeartbeatLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.HeartbeatInterval, _time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (!Volatile.Read(ref _registered))
            {
                continue; // not registered yet: the first registration counts as the first heartbeat
            }

            HeartbeatAck ack;
            try
            {
                // Also while the sync loop retries after a failure: the host grain may well answer
                // when another grain (a switch busy on a slow storage write) does not.
                ack = await Bounded(_client.GetGrain<IHostGrain>(_options.HostId).HeartbeatAsync(_host.DataPlane.Snapshot.Generation));
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                if (Volatile.Read(ref _connected))
                {
                    // The sync loop reports the outage once and re-synchronizes.
                    Volatile.Write(ref _heartbeatFailure, ex);
                    _wake.Release();
                }

                continue;
            }

            long known = Interlocked.Exchange(ref _membershipVersion, ack.MembershipVersion);
            if (ack.Revived)
            {
                // Declared dead meanwhile: our MACs were withdrawn; start over and publish them again.
                RequestResync("the host was declared dead and is back");
                continue;
            }

            if (known >= 0 && known != ack.MembershipVersion)
            {
                Interlocked.Exchange(ref _refreshRequested, 1);
                _wake.Release();
            }

            try
            {
                var config = await Bounded(_client.GetGrain<ISwitchGrain>(_options.Switch).GetAsync());
                long? applied;
                lock (_gate)
                {
                    applied = _switch?.Version;
                }

                if (config is null || config.Version != applied)
                {
                    RequestResync("the switch configuration changed");
                }
            }
            catch (Exception) when (!stoppingToken.IsCancellationRequested)
            {
                // A switch grain that does not answer (say, stuck on a slow storage write) is asked
                // again next beat; it is no reason to stop heartbeating.
            }
        }
    }

    private void RequestResync(string reason)
    {
        if (Volatile.Read(ref _connected))
        {
            Volatile.Write(ref _resyncReason, reason);
            _wake.Release();
        }
    }

    private async Task RunConnectedAsync(CancellationToken stoppingToken)
    {
        var now = _time.GetUtcNow();
        var nextRefresh = now + _options.SubscriptionRefreshInterval;
        var nextAging = now + TimeSpan.FromSeconds(Math.Max(1, _options.MacAgingTime.TotalSeconds / 10));
        while (!stoppingToken.IsCancellationRequested)
        {
            // Wake for the next publish tick, or earlier when a delta reports a gap or a heartbeat news.
            await _wake.WaitAsync(_options.LearnPublishInterval, stoppingToken);
            if (Volatile.Read(ref _heartbeatFailure) is { } failure)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }

            if (Volatile.Read(ref _resyncReason) is { } reason)
            {
                Log.Resync(_logger, reason);
                return;
            }

            await PublishLearnedAsync();
            await PublishBindingsAsync();
            await ResnapshotStaleAsync();

            now = _time.GetUtcNow();
            if (Interlocked.Exchange(ref _refreshRequested, 0) == 1 || now >= nextRefresh)
            {
                // Renewing returns each grain's snapshot; one from a new activation replaces ours.
                nextRefresh = now + _options.SubscriptionRefreshInterval;
                await SubscribeAllAsync();
            }

            SaveCacheIfDue(now);

            if (now >= nextAging)
            {
                nextAging = now + TimeSpan.FromSeconds(Math.Max(1, _options.MacAgingTime.TotalSeconds / 10));
                int aged = _host.DataPlane.Macs.Age(Environment.TickCount64 - (long)_options.MacAgingTime.TotalMilliseconds);
                if (aged > 0)
                {
                    Log.Aged(_logger, aged);
                }
            }
        }
    }

    private async Task FullSyncAsync(CancellationToken stoppingToken)
    {
        var config = await Bounded(_client.GetGrain<ISwitchGrain>(_options.Switch).GetAsync())
            ?? throw new FabricNotFoundException("switch", _options.Switch);
        var ports = _options.Ports.Select((p, i) => ForwardingBuilder.BuildPort(i, p, config)).ToArray();
        foreach (var port in ports.Where(p => p.AccessVni == 0 && !p.Trunk))
        {
            Log.PortWithoutSegment(_logger, port.Name, _options.Ports[port.Index].PortGroup);
        }

        // A trunk port appears to the host grain as one sub-port per carried port group, so the
        // host joins (and on death leaves) every segment the trunk carries.
        var hostPorts = new List<HostPort>();
        foreach (var (binding, port) in _options.Ports.Zip(ports))
        {
            if (config.PortGroups.Any(g => g.Name == binding.PortGroup))
            {
                hostPorts.Add(new HostPort(binding.Interface, binding.PortGroup));
            }

            foreach (var (vid, vni) in port.VniByVid)
            {
                var carried = config.PortGroups.First(g => g.Vni.Value == vni);
                hostPorts.Add(new HostPort($"{binding.Interface}.{vid}", carried.Name));
            }
        }

        await Bounded(_client.GetGrain<IHostGrain>(_options.HostId).RegisterAsync(new HostRegistration(_vtep, _version, _options.Switch, hostPorts)));
        Volatile.Write(ref _registered, true);

        lock (_gate)
        {
            _switch = config;
            _ports = ports;
        }

        _subscribed = ports.SelectMany(ForwardingBuilder.VnisOf).ToHashSet();

        // A port moved to another port group: what it learned in its old VNI is not its anymore.
        foreach (var (key, entry) in _host.DataPlane.Macs.Entries)
        {
            if (!ForwardingBuilder.VnisOf(ports[entry.Port]).Contains(key.Vni))
            {
                _host.DataPlane.Macs.Forget(key.Vni, key.Mac);
            }
        }

        await SubscribeAllAsync(replace: true);

        // The MAC tables may have lost us (host declared dead, or a silo restarted on memory
        // storage): publish every MAC we hold; learning is idempotent at the grain.
        foreach (var (key, entry) in _host.DataPlane.Macs.Entries)
        {
            lock (_gate)
            {
                _unpublished[key] = new LearnedMac(key.Vni, key.Mac, entry.Port);
            }

            entry.PublishedIpv4 = 0; // and their IP bindings, again
        }

        await PublishLearnedAsync();
        stoppingToken.ThrowIfCancellationRequested();
    }

    /// <summary>
    /// Subscribes (or renews) on every segment and MAC table of our VNIs. The answers are collected
    /// first and applied together: a failure half way leaves the cache as it was, never half
    /// cleared, so the data plane keeps forwarding on the last complete tables.
    /// </summary>
    private async Task SubscribeAllAsync(bool replace = false)
    {
        var segments = new List<SegmentSnapshot>();
        var tables = new List<MacTableSnapshot>();
        foreach (uint vni in _subscribed)
        {
            segments.Add(await Bounded(_client.GetGrain<ISegmentGrain>(vni).SubscribeAsync(_segmentObserver!)));
            tables.Add(await Bounded(_client.GetGrain<IMacTableGrain>(vni).SubscribeAsync(_macObserver!)));
        }

        lock (_gate)
        {
            if (replace)
            {
                // Drop VNIs we no longer carry; everything else is overwritten below.
                foreach (uint vni in _segments.Keys.Concat(_macs.Keys).Where(v => !_subscribed.Contains(v)).ToArray())
                {
                    _segments.Remove(vni);
                    _macs.Remove(vni);
                    _macVersions.Remove(vni);
                    _bindings.Remove(vni);
                }

                _stale.Clear();
            }

            foreach (var segment in segments)
            {
                uint vni = segment.Vni.Value;
                if (replace || !_segments.TryGetValue(vni, out var known) || known.Epoch != segment.Epoch || known.Version < segment.Version)
                {
                    _segments[vni] = segment;
                }
            }

            foreach (var table in tables)
            {
                uint vni = table.Vni.Value;
                if (replace || !_macVersions.TryGetValue(vni, out var version) || version.Epoch != table.Epoch || version.Version < table.Version)
                {
                    ApplyMacSnapshot(table);
                }
            }
        }

        Rebuild();
    }

    private async Task ResnapshotStaleAsync()
    {
        uint[] stale;
        lock (_gate)
        {
            if (_stale.Count == 0)
            {
                return;
            }

            stale = [.. _stale];
            _stale.Clear();
        }

        foreach (uint vni in stale)
        {
            var segment = await Bounded(_client.GetGrain<ISegmentGrain>(vni).GetAsync());
            var table = await Bounded(_client.GetGrain<IMacTableGrain>(vni).GetSnapshotAsync());
            lock (_gate)
            {
                _segments[vni] = segment;
                ApplyMacSnapshot(table);
            }
        }

        Rebuild();
    }

    private void ApplyMacSnapshot(MacTableSnapshot table)
    {
        _macs[table.Vni.Value] = table.Entries.ToDictionary(e => e.Mac);
        _macVersions[table.Vni.Value] = (table.Epoch, table.Version);
        _bindings[table.Vni.Value] = table.IpBindings.ToDictionary(b => b.Ip, b => b.Mac);
        foreach (var entry in table.Entries)
        {
            if (entry.HostId != _options.HostId)
            {
                // Someone else holds it now: stop delivering it locally.
                _host.DataPlane.Macs.Forget(table.Vni.Value, entry.Mac.Value);
            }
        }
    }

    private async Task PublishLearnedAsync()
    {
        while (_host.DataPlane.Macs.Pending.TryDequeue(out var learned))
        {
            lock (_gate)
            {
                _unpublished[new MacKey(learned.Vni, learned.Mac)] = learned;
            }
        }

        Dictionary<uint, List<MacLearnRequest>> batches;
        lock (_gate)
        {
            if (_unpublished.Count == 0)
            {
                return;
            }

            batches = _unpublished.Values
                .GroupBy(l => l.Vni)
                .ToDictionary(g => g.Key, g => g.Select(l => new MacLearnRequest(new MacAddress(l.Mac), _options.HostId, _vtep, _options.Ports[l.Port].Interface)).ToList());
        }

        foreach (var (vni, batch) in batches)
        {
            await Bounded(_client.GetGrain<IMacTableGrain>(vni).LearnAsync(batch));
            lock (_gate)
            {
                foreach (var request in batch)
                {
                    _unpublished.Remove(new MacKey(vni, request.Mac.Value));
                }
            }
        }
    }

    /// <summary>
    /// Publishes the IPv4 bindings the data plane snooped from its VMs' ARP packets (for ARP
    /// suppression on every host), each once it changes and once its MAC is in the table.
    /// </summary>
    private async Task PublishBindingsAsync()
    {
        foreach (var (key, entry) in _host.DataPlane.Macs.Entries)
        {
            uint ip = entry.Ipv4;
            if (ip == 0 || ip == entry.PublishedIpv4)
            {
                continue;
            }

            lock (_gate)
            {
                if (_unpublished.ContainsKey(key))
                {
                    continue; // the MAC first
                }
            }

            try
            {
                await Bounded(_client.GetGrain<IMacTableGrain>(key.Vni).BindIpAsync(new MacAddress(key.Mac), Wire.Ipv4Address.ToIPAddress(ip)));
                entry.PublishedIpv4 = ip;
            }
            catch (FabricNotFoundException)
            {
                // The table does not have the MAC (yet, or any more): try again next tick.
            }
            catch (FabricValidationException)
            {
                // Not a unicast address (a VM claimed 255.255.255.255, say): never bindable, not retried.
                entry.PublishedIpv4 = ip;
            }
        }
    }

    public void OnSegmentChanged(SegmentDelta delta)
    {
        lock (_gate)
        {
            uint vni = delta.Vni.Value;
            if (!_segments.TryGetValue(vni, out var known) || known.Epoch != delta.Epoch || delta.Version != known.Version + 1)
            {
                if (known is null || delta.Version > known.Version || known.Epoch != delta.Epoch)
                {
                    // A gap or a new activation: ask for the whole segment.
                    _stale.Add(vni);
                    _wake.Release();
                }

                return;
            }

            var list = known.FloodList.ToList();
            if (delta.Removed is { } removed)
            {
                list.RemoveAll(e => e.HostId == removed.HostId);
            }

            if (delta.Added is { } added)
            {
                list.RemoveAll(e => e.HostId == added.HostId);
                list.Add(added);
            }

            _segments[vni] = known with { Version = delta.Version, FloodList = list };
        }

        Rebuild();
    }

    public void OnMacTableChanged(MacTableDelta delta)
    {
        lock (_gate)
        {
            uint vni = delta.Vni.Value;
            if (!_macVersions.TryGetValue(vni, out var known) || known.Epoch != delta.Epoch || delta.Version != known.Version + 1)
            {
                if (!_macVersions.ContainsKey(vni) || delta.Version > known.Version || known.Epoch != delta.Epoch)
                {
                    _stale.Add(vni);
                    _wake.Release();
                }

                return;
            }

            var table = _macs[vni];
            foreach (var change in delta.Changes)
            {
                if (change.Kind == MacChangeKind.Removed)
                {
                    table.Remove(change.Entry.Mac);
                    continue;
                }

                table[change.Entry.Mac] = change.Entry;
                if (change.Entry.HostId != _options.HostId)
                {
                    // Moved away from us (RFC 7432 §15: the higher sequence wins): no stale local entry.
                    _host.DataPlane.Macs.Forget(vni, change.Entry.Mac.Value);
                }
            }

            if (delta.IpBindings.Count > 0)
            {
                var bindings = _bindings.TryGetValue(vni, out var current) ? current : _bindings[vni] = [];
                foreach (var binding in delta.IpBindings)
                {
                    if (binding.Mac is { } mac)
                    {
                        bindings[binding.Ip] = mac;
                    }
                    else
                    {
                        bindings.Remove(binding.Ip);
                    }
                }
            }

            _macVersions[vni] = (delta.Epoch, delta.Version);
        }

        Rebuild();
    }

    private void Rebuild()
    {
        ForwardingSnapshot snapshot;
        lock (_gate)
        {
            if (_switch is null)
            {
                return;
            }

            var macs = _macs.ToDictionary(kv => kv.Key, kv => (IReadOnlyDictionary<MacAddress, MacEntry>)kv.Value);
            var bindings = _bindings.ToDictionary(kv => kv.Key, kv => (IReadOnlyDictionary<IPAddress, MacAddress>)kv.Value);
            snapshot = ForwardingBuilder.Build(_ports, _switch.Version, _options.HostId, _options.VxlanPort, _segments, macs, _host.DataPlane.Counters, _vtepCache, bindings);
        }

        _host.DataPlane.Publish(snapshot);
        Volatile.Write(ref _cacheDirty, true);
    }

    private void SaveCacheIfDue(DateTimeOffset now)
    {
        if (_options.ForwardingCacheFile is not { Length: > 0 } path || now < _nextCacheSave || !Volatile.Read(ref _cacheDirty))
        {
            return;
        }

        _nextCacheSave = now + TimeSpan.FromSeconds(1);
        Volatile.Write(ref _cacheDirty, false);
        try
        {
            ForwardingCache.Save(path, _options.HostId, _options.Switch, _host.DataPlane.Snapshot, now);
            _cacheFailureReported = false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (!_cacheFailureReported)
            {
                Log.CacheFailed(_logger, path, ex.Message);
                _cacheFailureReported = true;
            }
        }
    }

    private async Task UnregisterObserversAsync()
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

    /// <summary>
    /// Waits at most <see cref="AgentOptions.CallTimeout"/> for a call, then moves on (TimeoutException)
    /// so a call stuck on a silo that just died holds up neither heartbeats nor re-syncs. The call
    /// itself keeps Orleans' own response timeout: a silo that is slow while it starts still gets to
    /// answer the retries, instead of every message expiring in its queue.
    /// </summary>
    private Task<T> Bounded<T>(Task<T> call) => call.WaitAsync(_options.CallTimeout, _time);

    private Task Bounded(Task call) => call.WaitAsync(_options.CallTimeout, _time);

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Host {HostId} synchronized with the cluster: {Vnis} segment(s) (re-sync after an outage: {Again})")]
        public static partial void Synchronized(ILogger logger, string hostId, int vnis, bool again);

        [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Control plane unreachable ({Kind}: {Reason}); forwarding on the cached tables and queueing learned MACs until it is back")]
        public static partial void Unreachable(ILogger logger, string kind, string reason);

        [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Re-synchronizing: {Reason}")]
        public static partial void Resync(ILogger logger, string reason);

        [LoggerMessage(EventId = 3004, Level = LogLevel.Debug, Message = "Aged out {Count} local MAC(s)")]
        public static partial void Aged(ILogger logger, int count);

        [LoggerMessage(EventId = 3008, Level = LogLevel.Warning, Message = "Cannot save the forwarding tables to {Path}: {Reason} (a restart will wait for the cluster)")]
        public static partial void CacheFailed(ILogger logger, string path, string reason);

        [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "Port {Port}: port group '{PortGroup}' does not exist on the switch; its frames are dropped (NoSegment)")]
        public static partial void PortWithoutSegment(ILogger logger, string port, string portGroup);
    }
}
