using System.Net;
using Fabric.Grains.Diagnostics;
using Fabric.Grains.Hosting;
using Fabric.Grains.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fabric.Grains.Hosts;

[GenerateSerializer, Alias("fabric.host-state")]
internal sealed class HostState
{
    [Id(0)] public bool Registered { get; set; }

    [Id(1)] public IPAddress Vtep { get; set; } = IPAddress.None;

    [Id(2)] public string AgentVersion { get; set; } = "";

    [Id(3)] public string Switch { get; set; } = "";

    [Id(4)] public List<HostPort> Ports { get; set; } = [];

    /// <summary>The VNIs whose flood lists this host is in (while alive) or was in (while dead).</summary>
    [Id(5)] public SortedSet<uint> Vnis { get; set; } = [];

    [Id(6)] public bool Alive { get; set; }

    [Id(7)] public long AppliedGeneration { get; set; }

    /// <summary>As of the last write; the live value is kept in memory, not written per heartbeat.</summary>
    [Id(8)] public DateTimeOffset LastHeartbeat { get; set; }

    /// <summary>The operator's port requests, by interface.</summary>
    [Id(9)] public List<RequestedPort> RequestedPorts { get; set; } = [];

    /// <summary>Grows with every change of <see cref="RequestedPorts"/>.</summary>
    [Id(10)] public long PortRequestsVersion { get; set; }

    /// <summary>The agent's management endpoint, as registered; null when it serves none.</summary>
    [Id(11)] public string? ManagementUrl { get; set; }
}

/// <summary>
/// A host's identity, ports and liveness. Calls out to the switch, segment, MAC table and directory
/// grains, none of which call back, so there is no cycle. A timer declares the host dead when its
/// heartbeats stop; like an EVPN withdraw, its MACs go and it leaves every flood list.
/// </summary>
internal sealed partial class HostGrain(
    [PersistentState("host", "fabric")] IPersistentState<HostState> state,
    IOptions<HostLivenessOptions> livenessOptions,
    IClusterMembershipService membership,
    TimeProvider time,
    GrainMetrics metrics,
    ILogger<HostGrain> logger) : Grain, IHostGrain
{
    private readonly HostLivenessOptions _liveness = livenessOptions.Value;
    private IGrainTimer? _livenessTimer;
    private DateTimeOffset _lastHeartbeat;

    // What the agent last reported on the port requests: soft, reported again after any change.
    private long _reportedVersion;
    private IReadOnlyList<PortRequestStatus> _statuses = [];

    // When this activation could hear heartbeats again after its last turn that waited on storage
    // or other grains: while such a turn hangs (a storage outage, a call to a silo that just died),
    // heartbeats wait in its queue, and that silence is not the agent's.
    private DateTimeOffset _listeningSince;
    private HostGauges? _gauges;

    private HostState State => state.State;

    private string Id => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A new activation (for instance after the silo that held it died) gives the agent a full
        // DeadAfter to be heard from, rather than trusting a heartbeat time from another activation.
        _lastHeartbeat = time.GetUtcNow();
        if (State.Registered && State.Alive)
        {
            StartLivenessTimer();
        }

        _gauges = new HostGauges(Id);
        ShowLiveness();
        metrics.Register(_gauges);
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_gauges is not null)
        {
            metrics.Unregister(_gauges);
        }

        return Task.CompletedTask;
    }

    public async Task<HostInfo> RegisterAsync(HostRegistration registration)
    {
        using var turn = new ListeningTurn(this);
        Guard.Name(Id, "hostId");
        Guard.NotNull(registration, "registration");
        Guard.Vtep(registration.Vtep);
        if (string.IsNullOrWhiteSpace(registration.AgentVersion) || registration.AgentVersion.Length > 64)
        {
            Guard.Throw("agentVersion", "agentVersion is required, at most 64 characters.");
        }

        Guard.Name(registration.Switch, "switch");
        if (registration.ManagementUrl is { } url
            && (url.Length > 256 || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            Guard.Throw("managementUrl", "managementUrl must be an absolute http or https URL of at most 256 characters.");
        }

        Guard.NotNull(registration.Ports, "ports");
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < registration.Ports.Count; i++)
        {
            var port = registration.Ports[i];
            Guard.NotNull(port, $"ports[{i}]");
            Guard.Name(port.Name, $"ports[{i}].name");
            Guard.Name(port.PortGroup, $"ports[{i}].portGroup");
            if (!names.Add(port.Name))
            {
                Guard.Throw($"ports[{i}].name", $"port '{port.Name}' is listed twice.");
            }
        }

        // The switch checks the port groups exist and records that they are in use, in one turn.
        var portGroups = registration.Ports.Select(p => p.PortGroup).Distinct(StringComparer.Ordinal).ToList();
        var config = await GrainFactory.GetGrain<ISwitchGrain>(registration.Switch).AttachHostPortsAsync(Id, portGroups);
        if (State.Registered && State.Switch != registration.Switch)
        {
            await GrainFactory.GetGrain<ISwitchGrain>(State.Switch).DetachHostPortsAsync(Id);
        }

        var vniOf = config.PortGroups.ToDictionary(pg => pg.Name, pg => pg.Vni.Value, StringComparer.Ordinal);
        var wanted = RoutingDomain.VnisOfHost(config, portGroups.Select(pg => vniOf[pg]));
        bool vtepChanged = State.Registered && !State.Vtep.Equals(registration.Vtep);

        // Segments no longer used: out of the flood list, MACs withdrawn. With a new VTEP, every MAC
        // learned at the old one is stale, so withdraw those too; the agent publishes them again.
        var dropped = State.Vnis.Where(v => !wanted.Contains(v) || vtepChanged).ToList();
        await Task.WhenAll(dropped.Select(v => WithdrawAsync(v, leave: !wanted.Contains(v))));

        // Ports that are gone (detached at run time: a container removed) take what was learned on
        // them along, in the segments the host stays in; the others go with the segment above.
        var gone = State.Registered && !vtepChanged
            ? State.Ports.Select(p => p.Name).Except(registration.Ports.Select(p => p.Name), StringComparer.Ordinal).ToList()
            : [];
        if (gone.Count != 0)
        {
            await Task.WhenAll(State.Vnis.Where(wanted.Contains).Select(v => GrainFactory.GetGrain<IMacTableGrain>(v).WithdrawPortsAsync(Id, gone)));
        }
        await Task.WhenAll(wanted.Select(v => GrainFactory.GetGrain<ISegmentGrain>(v).JoinAsync(Id, registration.Vtep)));
        await GrainFactory.GetGrain<IFabricDirectoryGrain>(IFabricDirectoryGrain.Key).RegisterHostAsync(Id);

        _lastHeartbeat = time.GetUtcNow();
        bool wasAlive = State.Registered && State.Alive;
        State.Registered = true;
        State.Vtep = registration.Vtep;
        State.AgentVersion = registration.AgentVersion;
        State.ManagementUrl = registration.ManagementUrl;
        State.Switch = registration.Switch;
        State.Ports = [.. registration.Ports];
        State.Vnis = wanted;
        State.Alive = true;
        State.LastHeartbeat = _lastHeartbeat;
        await state.WriteOrDeactivateAsync(this);
        ShowLiveness();
        StartLivenessTimer();
        Log.Registered(logger, Id, registration.Vtep, registration.Switch, registration.Ports.Count, wanted.Count, wasAlive);
        return Info();
    }

    public async Task<HeartbeatAck> HeartbeatAsync(long appliedGeneration)
    {
        using var turn = new ListeningTurn(this);
        EnsureRegistered();
        _lastHeartbeat = time.GetUtcNow();
        bool revived = !State.Alive;
        if (revived)
        {
            await Task.WhenAll(State.Vnis.Select(v => GrainFactory.GetGrain<ISegmentGrain>(v).JoinAsync(Id, State.Vtep)));
            State.Alive = true;
            ShowLiveness();
            StartLivenessTimer();
            Log.Revived(logger, Id);
        }

        if (revived || appliedGeneration != State.AppliedGeneration)
        {
            State.AppliedGeneration = appliedGeneration;
            State.LastHeartbeat = _lastHeartbeat;
            await state.WriteOrDeactivateAsync(this);
        }

        return new HeartbeatAck(revived, membership.CurrentSnapshot.Version.Value, State.PortRequestsVersion);
    }

    public async Task<PortRequests> RequestPortAsync(RequestedPort port)
    {
        Guard.Name(Id, "hostId");
        Guard.NotNull(port, "port");
        if (port.Interface is not { Length: >= 1 and <= 15 } || !FabricNames.IsValid(port.Interface))
        {
            Guard.Throw("interface", $"interface '{port.Interface}' is not an interface name (1..15 characters of letters, digits, '.', '_', '-').");
        }

        Guard.Name(port.PortGroup, "portGroup");
        if (port.Mac is not null)
        {
            if (!Addressing.MacAddress.TryParse(port.Mac, out var mac))
            {
                Guard.Throw("mac", $"mac '{port.Mac}' is not a MAC address (xx:xx:xx:xx:xx:xx).");
            }

            Guard.UnicastMac(mac);
        }

        var ipv4 = port.Ipv4 ?? [];
        for (int i = 0; i < ipv4.Count; i++)
        {
            Guard.UnicastIPv4(IPAddress.TryParse(ipv4[i], out var ip) ? ip : IPAddress.None, $"ipv4[{i}]");
        }

        if (ipv4.Count > 0 && port.Mac is null)
        {
            Guard.Throw("ipv4", "ipv4 addresses need the mac they belong to.");
        }

        if (State.Registered)
        {
            var config = await GrainFactory.GetGrain<ISwitchGrain>(State.Switch).GetAsync();
            if (config is null || !config.PortGroups.Any(g => g.Name == port.PortGroup))
            {
                Guard.NotFound("port group", port.PortGroup);
            }
        }

        var normalized = port with { Ipv4 = [.. ipv4.Select(a => IPAddress.Parse(a).ToString())] };
        State.RequestedPorts = [.. State.RequestedPorts.Where(p => p.Interface != port.Interface), normalized];
        State.PortRequestsVersion++;
        await state.WriteOrDeactivateAsync(this);
        return PortRequestsView();
    }

    public async Task<bool> WithdrawPortRequestAsync(string interfaceName)
    {
        if (!State.RequestedPorts.Any(p => p.Interface == interfaceName))
        {
            return false;
        }

        State.RequestedPorts = [.. State.RequestedPorts.Where(p => p.Interface != interfaceName)];
        State.PortRequestsVersion++;
        await state.WriteOrDeactivateAsync(this);
        return true;
    }

    public Task<PortRequests> GetPortRequestsAsync() => Task.FromResult(PortRequestsView());

    public Task ReportPortRequestsAsync(long version, IReadOnlyList<PortRequestStatus> statuses)
    {
        Guard.NotNull(statuses, "statuses");
        if (version >= _reportedVersion)
        {
            _reportedVersion = version;
            _statuses = [.. statuses];
        }

        return Task.CompletedTask;
    }

    private PortRequests PortRequestsView() => new(State.PortRequestsVersion, [.. State.RequestedPorts], _reportedVersion, _statuses);

    public async Task UnregisterAsync()
    {
        EnsureRegistered();
        StopLivenessTimer();
        await Task.WhenAll(State.Vnis.Select(v => WithdrawAsync(v, leave: true)));
        await GrainFactory.GetGrain<ISwitchGrain>(State.Switch).DetachHostPortsAsync(Id);
        await GrainFactory.GetGrain<IFabricDirectoryGrain>(IFabricDirectoryGrain.Key).UnregisterHostAsync(Id);
        await state.ClearStateAsync();
        state.State = new HostState(); // providers differ on what a cleared state holds
        ShowLiveness();
        Log.Unregistered(logger, Id);
    }

    public Task<HostInfo?> GetAsync() => Task.FromResult(State.Registered ? Info() : null);

    private HostInfo Info()
        => new(Id, State.Vtep, State.AgentVersion, State.Switch, [.. State.Ports], _lastHeartbeat, State.Alive, State.AppliedGeneration, State.ManagementUrl);

    private void EnsureRegistered()
    {
        if (!State.Registered)
        {
            Guard.NotFound("host", Id);
        }
    }

    private Task WithdrawAsync(uint vni, bool leave)
    {
        var macs = GrainFactory.GetGrain<IMacTableGrain>(vni).WithdrawHostAsync(Id);
        return leave ? Task.WhenAll(macs, GrainFactory.GetGrain<ISegmentGrain>(vni).LeaveAsync(Id)) : macs;
    }

    private void StartLivenessTimer()
    {
        if (_livenessTimer is not null)
        {
            return;
        }

        var interval = _liveness.EffectiveCheckInterval;

        // KeepAlive: a live host's grain must stay active to notice silence; a dead one's timer stops.
        _livenessTimer = this.RegisterGrainTimer(CheckLivenessAsync, new GrainTimerCreationOptions(interval, interval) { KeepAlive = true });
    }

    private void StopLivenessTimer()
    {
        _livenessTimer?.Dispose();
        _livenessTimer = null;
    }

    private async Task CheckLivenessAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var silence = now - _lastHeartbeat;
        if (now - _listeningSince < _liveness.DeadAfter)
        {
            return; // the grain itself was stalled (a slow storage write) for part of that silence
        }

        if (!State.Registered || !State.Alive || silence <= _liveness.DeadAfter)
        {
            return;
        }

        // Withdraw first: if a segment or MAC table call fails, the host is still alive and the next tick retries.
        await Task.WhenAll(State.Vnis.Select(v => WithdrawAsync(v, leave: true)));
        Log.Dead(logger, Id, silence);
        StopLivenessTimer();
        State.Alive = false;
        await state.WriteOrDeactivateAsync(this);
        ShowLiveness();
    }

    /// <summary>Shows the silo's metrics what the state says now (see <see cref="GrainMetrics"/>).</summary>
    private void ShowLiveness() => _gauges?.Set(State.Registered, State.Alive);

    private void MarkListening() => _listeningSince = time.GetUtcNow();

    /// <summary>Ends a turn that may wait on other grains or storage: the silence clock restarts after it.</summary>
    private readonly struct ListeningTurn(HostGrain grain) : IDisposable
    {
        public void Dispose() => grain.MarkListening();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = GrainsEventIds.HostRegistered, Level = LogLevel.Information, Message = "Host {HostId} registered: VTEP {Vtep}, switch {Switch}, {Ports} ports in {Segments} segments (was alive: {WasAlive})")]
        public static partial void Registered(ILogger logger, string hostId, IPAddress vtep, string @switch, int ports, int segments, bool wasAlive);

        [LoggerMessage(EventId = GrainsEventIds.HostDeclaredDead, Level = LogLevel.Warning, Message = "Host {HostId} declared dead after {Silence} without a heartbeat: MACs withdrawn, left every flood list")]
        public static partial void Dead(ILogger logger, string hostId, TimeSpan silence);

        [LoggerMessage(EventId = GrainsEventIds.HostRevived, Level = LogLevel.Information, Message = "Host {HostId} is heard from again: rejoined its flood lists")]
        public static partial void Revived(ILogger logger, string hostId);

        [LoggerMessage(EventId = GrainsEventIds.HostUnregistered, Level = LogLevel.Information, Message = "Host {HostId} unregistered")]
        public static partial void Unregistered(ILogger logger, string hostId);
    }
}
