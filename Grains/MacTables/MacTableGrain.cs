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
}

/// <summary>
/// The FDB of one VNI: one serialization point for mobility decisions. Agents call it with batches
/// of learned MACs, never per frame. Move history for duplicate detection is kept in memory only:
/// a new activation starts counting afresh, which errs towards following a MAC, not freezing it.
/// </summary>
internal sealed partial class MacTableGrain(
    [PersistentState("mactable", "fabric")] IPersistentState<MacTableState> state,
    IOptions<MacMobilityOptions> mobilityOptions,
    IOptions<ObserverOptions> observerOptions,
    TimeProvider time,
    ILogger<MacTableGrain> logger) : Grain, IMacTableGrain
{
    public const int MaxBatch = 4096;

    private readonly Guid _epoch = Guid.NewGuid();
    private readonly ObserverManager<IMacTableObserver> _observers = new(observerOptions.Value.SubscriptionExpiry, logger);
    private readonly Dictionary<MacAddress, Queue<DateTimeOffset>> _moves = [];
    private readonly MacMobilityOptions _mobility = mobilityOptions.Value;

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

    public async Task<IReadOnlyList<MacLearnOutcome>> LearnAsync(IReadOnlyList<MacLearnRequest> batch)
    {
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
        foreach (var request in batch)
        {
            var (result, entry) = Learn(request, now, changes);
            outcomes.Add(new MacLearnOutcome(request.Mac, result, entry));
            if (request.Ip is not null && result is MacLearnResult.Learned or MacLearnResult.Unchanged or MacLearnResult.Moved)
            {
                Bind(request.Mac, request.Ip, bindings);
            }
        }

        await CommitAsync(vni, changes, bindings);
        return outcomes;
    }

    private (MacLearnResult, MacEntry) Learn(MacLearnRequest request, DateTimeOffset now, List<MacChange> changes)
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
            Log.Frozen(logger, Vni.Value, request.Mac, moves.Count, _mobility.Window, current.HostId, request.HostId);
            return (MacLearnResult.Frozen, frozen);
        }

        // RFC 7432 §15: the new location advertises sequence + 1 and wins; the delta tells the old holder.
        var moved = new MacEntry(request.Mac, request.HostId, request.Vtep, request.Port, current.Sequence + 1, now, Static: false, Frozen: false);
        State.Entries[request.Mac] = moved;
        changes.Add(new MacChange(MacChangeKind.Moved, moved, current.Location));
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
        Bind(mac, ip, bindings);
        await CommitAsync(vni, [], bindings);
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

    private void Bind(MacAddress mac, IPAddress ip, List<IpBindingChange> bindings)
    {
        if (State.IpBindings.TryGetValue(ip, out var bound) && bound == mac)
        {
            return;
        }

        State.IpBindings[ip] = mac;
        bindings.Add(new IpBindingChange(ip, mac));
    }

    private bool Remove(MacAddress mac, List<MacChange> changes, List<IpBindingChange> bindings)
    {
        if (!State.Entries.Remove(mac, out var removed))
        {
            return false;
        }

        _moves.Remove(mac);
        changes.Add(new MacChange(MacChangeKind.Removed, removed, null));
        foreach (var ip in State.IpBindings.Where(b => b.Value == mac).Select(b => b.Key).ToList())
        {
            State.IpBindings.Remove(ip);
            bindings.Add(new IpBindingChange(ip, null));
        }

        return true;
    }

    private MacTableSnapshot Snapshot(Vni vni)
        => new(
            vni,
            _epoch,
            State.Version,
            [.. State.Entries.Values.OrderBy(e => e.Mac)],
            [.. State.IpBindings.Select(b => new IpBinding(b.Key, b.Value))]);

    /// <summary>One version and one delta for everything a call changed; nothing when nothing changed.</summary>
    private async Task CommitAsync(Vni vni, List<MacChange> changes, List<IpBindingChange> bindings)
    {
        if (changes.Count == 0 && bindings.Count == 0)
        {
            return;
        }

        State.Version++;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            DeactivateOnIdle();
            throw;
        }

        var delta = new MacTableDelta(vni, _epoch, State.Version, changes, bindings);
        _observers.Notify(o => o.OnMacTableChanged(delta));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = GrainsEventIds.MacFrozen, Level = LogLevel.Warning, Message = "VNI {Vni}: duplicate MAC {Mac} frozen at host {HostId} after {Moves} moves within {Window} (last seen at host {ContenderHostId}); remove it or set it static to clear")]
        public static partial void Frozen(ILogger logger, uint vni, MacAddress mac, int moves, TimeSpan window, string hostId, string contenderHostId);

        [LoggerMessage(EventId = GrainsEventIds.HostMacsWithdrawn, Level = LogLevel.Information, Message = "VNI {Vni}: withdrew {Count} MACs of host {HostId}")]
        public static partial void Withdrawn(ILogger logger, uint vni, string hostId, int count);
    }
}
