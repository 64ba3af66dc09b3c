using System.Diagnostics;
using System.Net;
using Fabric.Addressing;
using Fabric.Grains.Diagnostics;
using Fabric.Grains.Hosting;
using Fabric.Grains.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Utilities;

namespace Fabric.Grains.MacTables;

[GenerateSerializer, Alias("fabric.mac-table-state")]
internal sealed class MacTableState
{
    [Id(0)] public long Version { get; set; }

    [Id(1)] public Dictionary<MacAddress, MacEntry> Entries { get; set; } = [];

    /// <summary>IPv4 → MAC, for ARP suppression.</summary>
    [Id(2)] public Dictionary<IPAddress, MacAddress> IpBindings { get; set; } = [];

    /// <summary>IPv4 → the binding's mobility sequence (absent: 1, as state written before sequences had).</summary>
    [Id(3)] public Dictionary<IPAddress, long> IpSequences { get; set; } = [];

    /// <summary>Addresses flagged duplicate: still bound, no longer proxied, claims refused.</summary>
    [Id(4)] public HashSet<IPAddress> DuplicateIps { get; set; } = [];
}

/// <summary>
/// The FDB of one VNI: one serialization point for mobility decisions, of MACs and of IP bindings.
/// Agents call it with batches of learned MACs, never per frame. Move history for duplicate
/// detection is kept in memory only: a new activation starts counting afresh, which errs towards
/// following a MAC or an address, not freezing it. MACs learned behind external VTEPs age out on a
/// timer that runs while the table holds any.
/// </summary>
internal sealed partial class MacTableGrain(
    [PersistentState("mactable", "fabric")] IPersistentState<MacTableState> state,
    IOptions<MacMobilityOptions> mobilityOptions,
    IOptions<ObserverOptions> observerOptions,
    TimeProvider time,
    GrainMetrics metrics,
    ILogger<MacTableGrain> logger) : Grain, IMacTableGrain
{
    public const int MaxBatch = 4096;

    private readonly Guid _epoch = Guid.NewGuid();
    private readonly ObserverManager<IMacTableObserver> _observers = new(observerOptions.Value.SubscriptionExpiry, logger);
    private readonly Dictionary<MacAddress, Queue<DateTimeOffset>> _moves = [];
    private readonly Dictionary<IPAddress, Queue<DateTimeOffset>> _ipMoves = [];
    private readonly MacMobilityOptions _mobility = mobilityOptions.Value;
    private IGrainTimer? _externalAging;
    private MacTableGauges? _gauges;

    private MacTableState State => state.State;

    private Vni Vni
    {
        get
        {
            long key = this.GetPrimaryKeyLong();
            if (!Vni.TryCreate(key, out var vni))
            {
                Guard.Throw("vni", $"vni {key} is out of range: a VNI is {Vni.MinValue}..{Vni.MaxValue} (RFC 7348 §5).");
            }

            return vni;
        }
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        EnsureExternalAging();
        if (Vni.TryCreate(this.GetPrimaryKeyLong(), out var vni))
        {
            _gauges = new MacTableGauges(vni.Value);
            _gauges.SetSizes(State.Entries.Count, State.IpBindings.Count, State.DuplicateIps.Count);
            _gauges.SetFrozen(State.Entries.Values.Count(e => e.Frozen));
            metrics.Register(_gauges);
        }

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

    public async Task<IReadOnlyList<MacLearnOutcome>> LearnAsync(IReadOnlyList<MacLearnRequest> batch)
    {
        long started = Stopwatch.GetTimestamp();
        var vni = Vni;
        Guard.NotNull(batch, "batch");
        if (batch.Count > MaxBatch)
        {
            Guard.Throw("batch", $"batch has {batch.Count} entries; at most {MaxBatch}.");
        }

        // Validate all before changing anything: a rejected batch leaves the table as it was.
        for (int i = 0; i < batch.Count; i++)
        {
            var request = batch[i];
            Guard.NotNull(request, "batch");
            ValidateLocation(request.Mac, request.HostId, request.Vtep, request.Port);
            if (request.Ip is not null)
            {
                Guard.UnicastIPv4(request.Ip);
            }
        }

        var now = time.GetUtcNow();
        var outcomes = new List<MacLearnOutcome>(batch.Count);
        var changes = new List<MacChange>();
        var bindings = new List<IpBindingChange>();
        bool refreshed = false;
        foreach (var request in batch)
        {
            var (result, entry) = Learn(request, now, changes, ref refreshed);
            outcomes.Add(new MacLearnOutcome(request.Mac, result, entry));
            if (request.Ip is not null && result is MacLearnResult.Learned or MacLearnResult.Unchanged or MacLearnResult.Moved)
            {
                Claim(request.Mac, request.Ip, now, bindings);
            }
        }

        await CommitAsync(vni, changes, bindings, writeAnyway: refreshed);
        if (changes.Count != 0 || bindings.Count != 0)
        {
            metrics.LearnPushDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }

        EnsureExternalAging();
        return outcomes;
    }

    private (MacLearnResult, MacEntry) Learn(MacLearnRequest request, DateTimeOffset now, List<MacChange> changes, ref bool refreshed)
    {
        if (!State.Entries.TryGetValue(request.Mac, out var current))
        {
            var learned = new MacEntry(request.Mac, request.HostId, request.Vtep, request.Port, 1, now, Static: false, Frozen: false);
            State.Entries[request.Mac] = learned;
            changes.Add(new MacChange(MacChangeKind.Learned, learned, null));
            return (MacLearnResult.Learned, learned);
        }

        if (IsAt(current, request.HostId, request.Vtep, request.Port))
        {
            if (IsExternallyLearned(current))
            {
                // Behind an external VTEP nothing withdraws a MAC but ageing: learning it again keeps it.
                current = current with { LearnedAt = now };
                State.Entries[request.Mac] = current;
                refreshed = true;
            }

            return (MacLearnResult.Unchanged, current);
        }

        if (current.Static)
        {
            return (MacLearnResult.RejectedStatic, current);
        }

        if (current.Frozen)
        {
            return (MacLearnResult.RejectedFrozen, current);
        }

        // RFC 7432 §15.1: more than N moves within M seconds is a duplicate, not a VM on the move.
        if (!_moves.TryGetValue(request.Mac, out var moves))
        {
            _moves[request.Mac] = moves = new Queue<DateTimeOffset>();
        }

        while (moves.Count != 0 && now - moves.Peek() > _mobility.Window)
        {
            moves.Dequeue();
        }

        moves.Enqueue(now);
        if (moves.Count > _mobility.MaxMoves)
        {
            var frozen = current with { Frozen = true };
            State.Entries[request.Mac] = frozen;
            changes.Add(new MacChange(MacChangeKind.Frozen, frozen, null));
            _gauges?.AddFrozen(1);
            Log.Frozen(logger, Vni.Value, request.Mac, moves.Count, _mobility.Window, current.HostId, request.HostId);
            return (MacLearnResult.Frozen, frozen);
        }

        // RFC 7432 §15: the new location advertises sequence + 1 and wins; the delta tells the old holder.
        var moved = new MacEntry(request.Mac, request.HostId, request.Vtep, request.Port, current.Sequence + 1, now, Static: false, Frozen: false);
        State.Entries[request.Mac] = moved;
        changes.Add(new MacChange(MacChangeKind.Moved, moved, current.Location));
        _gauges?.CountMove();
        return (MacLearnResult.Moved, moved);
    }

    public async Task<MacEntry> SetStaticAsync(MacAddress mac, string hostId, IPAddress vtep, string port)
    {
        var vni = Vni;
        ValidateLocation(mac, hostId, vtep, port);
        State.Entries.TryGetValue(mac, out var current);
        if (current is { Static: true } && IsAt(current, hostId, vtep, port))
        {
            return current;
        }

        bool moves = current is not null && !IsAt(current, hostId, vtep, port);
        var entry = new MacEntry(mac, hostId, vtep, port, current is null ? 1 : moves ? current.Sequence + 1 : current.Sequence, time.GetUtcNow(), Static: true, Frozen: false);
        State.Entries[mac] = entry;
        _moves.Remove(mac);
        if (current is { Frozen: true })
        {
            _gauges?.AddFrozen(-1);
        }

        await CommitAsync(vni, [new MacChange(MacChangeKind.Static, entry, moves ? current!.Location : null)], []);
        return entry;
    }

    public async Task<bool> RemoveAsync(MacAddress mac)
    {
        var vni = Vni;
        var changes = new List<MacChange>();
        var bindings = new List<IpBindingChange>();
        if (!Remove(mac, changes, bindings))
        {
            return false;
        }

        await CommitAsync(vni, changes, bindings);
        return true;
    }

    public async Task<int> WithdrawHostAsync(string hostId)
    {
        var vni = Vni;
        Guard.Name(hostId, "hostId");
        var changes = new List<MacChange>();
        var bindings = new List<IpBindingChange>();
        foreach (var entry in State.Entries.Values.Where(e => !e.Static && e.HostId == hostId).ToList())
        {
            Remove(entry.Mac, changes, bindings);
        }

        await CommitAsync(vni, changes, bindings);
        if (changes.Count != 0)
        {
            Log.Withdrawn(logger, vni.Value, hostId, changes.Count);
        }

        return changes.Count;
    }

    public async Task<int> WithdrawPortsAsync(string hostId, IReadOnlyList<string> ports)
    {
        var vni = Vni;
        Guard.Name(hostId, "hostId");
        Guard.NotNull(ports, "ports");
        var names = ports.ToHashSet(StringComparer.Ordinal);
        var changes = new List<MacChange>();
        var bindings = new List<IpBindingChange>();
        foreach (var entry in State.Entries.Values.Where(e => !e.Static && e.HostId == hostId && names.Contains(e.Port)).ToList())
        {
            Remove(entry.Mac, changes, bindings);
        }

        await CommitAsync(vni, changes, bindings);
        if (changes.Count != 0)
        {
            Log.Withdrawn(logger, vni.Value, hostId, changes.Count);
        }

        return changes.Count;
    }

    public async Task BindIpAsync(MacAddress mac, IPAddress ip)
    {
        var vni = Vni;
        Guard.UnicastMac(mac);
        Guard.UnicastIPv4(ip);
        if (!State.Entries.ContainsKey(mac))
        {
            Guard.NotFound("mac", mac.ToString());
        }

        var bindings = new List<IpBindingChange>();
        Claim(mac, ip, time.GetUtcNow(), bindings);
        await CommitAsync(vni, [], bindings);
    }

    public async Task<bool> RemoveIpBindingAsync(IPAddress ip)
    {
        var vni = Vni;
        if (ip is null || !State.IpBindings.ContainsKey(ip))
        {
            return false;
        }

        var bindings = new List<IpBindingChange>();
        Unbind(ip, bindings);
        await CommitAsync(vni, [], bindings);
        return true;
    }

    public async Task ResetAsync()
    {
        var vni = Vni;
        var changes = new List<MacChange>();
        var bindings = new List<IpBindingChange>();
        foreach (var mac in State.Entries.Keys.ToList())
        {
            Remove(mac, changes, bindings);
        }

        foreach (var ip in State.IpBindings.Keys.ToList())
        {
            Unbind(ip, bindings);
        }

        await CommitAsync(vni, changes, bindings);
        _moves.Clear();
        _ipMoves.Clear();
        Log.Reset(logger, vni.Value, changes.Count);

        // A new segment on this VNI is a new activation, with a new epoch subscribers re-snapshot on.
        DeactivateOnIdle();
    }

    public Task<MacTableSnapshot> GetSnapshotAsync() => Task.FromResult(Snapshot(Vni));

    public Task<MacTableSnapshot> SubscribeAsync(IMacTableObserver observer)
    {
        var vni = Vni;
        Guard.NotNull(observer, "observer");
        _observers.Subscribe(observer, observer);
        return Task.FromResult(Snapshot(vni));
    }

    public Task UnsubscribeAsync(IMacTableObserver observer)
    {
        if (observer is not null)
        {
            _observers.Unsubscribe(observer);
        }

        return Task.CompletedTask;
    }

    private static void ValidateLocation(MacAddress mac, string hostId, IPAddress vtep, string port)
    {
        Guard.UnicastMac(mac);
        Guard.Name(hostId, "hostId");
        Guard.Vtep(vtep);
        Guard.Name(port, "port");
    }

    private static bool IsAt(MacEntry entry, string hostId, IPAddress vtep, string port)
        => entry.HostId == hostId && entry.Port == port && entry.Vtep.Equals(vtep);

    /// <summary>
    /// <paramref name="mac"/> claims <paramref name="ip"/> (EVPN MAC/IP mobility, RFC 9161 §3 with
    /// RFC 7432 §15): a new address binds with sequence 1; a claim by another MAC moves the binding
    /// with sequence + 1 (the newest claim wins) unless the address moved more than MaxMoves times
    /// within Window, when it is flagged duplicate where it is (RFC 7432 §15.1 applied to the
    /// address) and no longer moves until an operator removes the binding.
    /// </summary>
    private void Claim(MacAddress mac, IPAddress ip, DateTimeOffset now, List<IpBindingChange> bindings)
    {
        if (State.DuplicateIps.Contains(ip))
        {
            return;
        }

        long sequence = 1;
        if (State.IpBindings.TryGetValue(ip, out var bound))
        {
            if (bound == mac)
            {
                return;
            }

            if (!_ipMoves.TryGetValue(ip, out var moves))
            {
                _ipMoves[ip] = moves = new Queue<DateTimeOffset>();
            }

            while (moves.Count != 0 && now - moves.Peek() > _mobility.Window)
            {
                moves.Dequeue();
            }

            moves.Enqueue(now);
            long current = State.IpSequences.GetValueOrDefault(ip, 1);
            if (moves.Count > _mobility.MaxMoves)
            {
                State.DuplicateIps.Add(ip);
                bindings.Add(new IpBindingChange(ip, bound, current, Duplicate: true));
                Log.DuplicateIp(logger, Vni.Value, ip, moves.Count, _mobility.Window, bound, mac);
                return;
            }

            sequence = current + 1;
        }

        State.IpBindings[ip] = mac;
        State.IpSequences[ip] = sequence;
        bindings.Add(new IpBindingChange(ip, mac, sequence));
    }

    private void Unbind(IPAddress ip, List<IpBindingChange> bindings)
    {
        State.IpBindings.Remove(ip);
        State.IpSequences.Remove(ip);
        State.DuplicateIps.Remove(ip);
        _ipMoves.Remove(ip);
        bindings.Add(new IpBindingChange(ip, null));
    }

    private static bool IsExternallyLearned(MacEntry entry) => !entry.Static && ExternalVteps.IsExternal(entry.HostId);

    /// <summary>Runs the ageing of externally learned MACs while the table holds any, every tenth of the ageing time (at least every second).</summary>
    private void EnsureExternalAging()
    {
        if (_externalAging is not null || !State.Entries.Values.Any(IsExternallyLearned))
        {
            return;
        }

        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, _mobility.ExternalAgingTime.Ticks / 10));
        _externalAging = this.RegisterGrainTimer(AgeExternalAsync, new GrainTimerCreationOptions(period, period) { KeepAlive = false });
    }

    private async Task AgeExternalAsync(CancellationToken cancellationToken)
    {
        var cutoff = time.GetUtcNow() - _mobility.ExternalAgingTime;
        var changes = new List<MacChange>();
        var bindings = new List<IpBindingChange>();
        foreach (var entry in State.Entries.Values.Where(e => IsExternallyLearned(e) && e.LearnedAt < cutoff).ToList())
        {
            Remove(entry.Mac, changes, bindings);
        }

        if (changes.Count != 0)
        {
            await CommitAsync(Vni, changes, bindings);
            Log.ExternalAged(logger, Vni.Value, changes.Count, _mobility.ExternalAgingTime);
        }

        if (!State.Entries.Values.Any(IsExternallyLearned))
        {
            _externalAging?.Dispose();
            _externalAging = null;
        }
    }

    private bool Remove(MacAddress mac, List<MacChange> changes, List<IpBindingChange> bindings)
    {
        if (!State.Entries.Remove(mac, out var removed))
        {
            return false;
        }

        _moves.Remove(mac);
        if (removed.Frozen)
        {
            _gauges?.AddFrozen(-1);
        }

        changes.Add(new MacChange(MacChangeKind.Removed, removed, null));
        foreach (var ip in State.IpBindings.Where(b => b.Value == mac).Select(b => b.Key).ToList())
        {
            Unbind(ip, bindings);
        }

        return true;
    }

    private MacTableSnapshot Snapshot(Vni vni)
        => new(
            vni,
            _epoch,
            State.Version,
            [.. State.Entries.Values.OrderBy(e => e.Mac)],
            [.. State.IpBindings.Select(b => new IpBinding(b.Key, b.Value, State.IpSequences.GetValueOrDefault(b.Key, 1), State.DuplicateIps.Contains(b.Key)))]);

    /// <summary>
    /// One version and one delta for everything a call changed; nothing when nothing changed, except
    /// that <paramref name="writeAnyway"/> persists state no subscriber needs to hear of (refreshed
    /// learn times) without a new version.
    /// </summary>
    private async Task CommitAsync(Vni vni, List<MacChange> changes, List<IpBindingChange> bindings, bool writeAnyway = false)
    {
        bool changed = changes.Count != 0 || bindings.Count != 0;
        if (!changed && !writeAnyway)
        {
            return;
        }

        if (changed)
        {
            State.Version++;
        }

        await state.WriteOrDeactivateAsync(this);
        _gauges?.SetSizes(State.Entries.Count, State.IpBindings.Count, State.DuplicateIps.Count);

        if (changed)
        {
            var delta = new MacTableDelta(vni, _epoch, State.Version, changes, bindings);
            _observers.Notify(o => o.OnMacTableChanged(delta));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = GrainsEventIds.MacFrozen, Level = LogLevel.Warning, Message = "VNI {Vni}: duplicate MAC {Mac} frozen at host {HostId} after {Moves} moves within {Window} (last seen at host {ContenderHostId}); remove it or set it static to clear")]
        public static partial void Frozen(ILogger logger, uint vni, MacAddress mac, int moves, TimeSpan window, string hostId, string contenderHostId);

        [LoggerMessage(EventId = GrainsEventIds.HostMacsWithdrawn, Level = LogLevel.Information, Message = "VNI {Vni}: withdrew {Count} MACs of host {HostId}")]
        public static partial void Withdrawn(ILogger logger, uint vni, string hostId, int count);

        [LoggerMessage(EventId = GrainsEventIds.IpFlaggedDuplicate, Level = LogLevel.Warning, Message = "VNI {Vni}: duplicate address {Ip} flagged after {Moves} moves within {Window}; it stays bound to {Mac} and is no longer proxied (last claimed by {ContenderMac}); remove the binding to clear")]
        public static partial void DuplicateIp(ILogger logger, uint vni, IPAddress ip, int moves, TimeSpan window, MacAddress mac, MacAddress contenderMac);

        [LoggerMessage(EventId = GrainsEventIds.ExternalMacsAged, Level = LogLevel.Information, Message = "VNI {Vni}: {Count} MAC(s) learned behind external VTEPs aged out (not learned again within {AgingTime})")]
        public static partial void ExternalAged(ILogger logger, uint vni, int count, TimeSpan agingTime);

        [LoggerMessage(EventId = GrainsEventIds.MacTableReset, Level = LogLevel.Information, Message = "VNI {Vni}: MAC table reset ({Count} MAC(s) removed); the next segment on this VNI starts empty")]
        public static partial void Reset(ILogger logger, uint vni, int count);
    }
}
