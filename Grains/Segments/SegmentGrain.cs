using System.Net;
using Fabric.Addressing;
using Fabric.Grains.Diagnostics;
using Fabric.Grains.Hosting;
using Fabric.Grains.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Utilities;

namespace Fabric.Grains.Segments;

[GenerateSerializer, Alias("fabric.segment-state")]
internal sealed class SegmentState
{
    [Id(0)] public long Version { get; set; }

    /// <summary>Host id → its VTEP.</summary>
    [Id(1)] public SortedDictionary<string, IPAddress> FloodList { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// The flood list of one VNI. Derived from hosts' ports, persisted so a new activation after a
/// silo loss answers at once; the epoch is new per activation so subscribers know to re-snapshot.
/// </summary>
internal sealed partial class SegmentGrain(
    [PersistentState("segment", "fabric")] IPersistentState<SegmentState> state,
    IOptions<ObserverOptions> observerOptions,
    ILogger<SegmentGrain> logger) : Grain, ISegmentGrain
{
    private readonly Guid _epoch = Guid.NewGuid();
    private readonly ObserverManager<ISegmentObserver> _observers = new(observerOptions.Value.SubscriptionExpiry, logger);

    private SegmentState State => state.State;

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

    public async Task<SegmentSnapshot> JoinAsync(string hostId, IPAddress vtep)
    {
        var vni = Vni;
        Guard.Name(hostId, "hostId");
        Guard.Vtep(vtep);
        State.FloodList.TryGetValue(hostId, out var previous);
        if (vtep.Equals(previous))
        {
            return Snapshot(vni);
        }

        State.FloodList[hostId] = vtep;
        await CommitAsync(vni, new FloodListEntry(hostId, vtep), previous is null ? null : new FloodListEntry(hostId, previous));
        Log.Joined(logger, vni.Value, hostId, vtep, State.Version);
        return Snapshot(vni);
    }

    public async Task LeaveAsync(string hostId)
    {
        var vni = Vni;
        if (hostId is null || !State.FloodList.Remove(hostId, out var previous))
        {
            return;
        }

        await CommitAsync(vni, null, new FloodListEntry(hostId, previous));
        Log.Left(logger, vni.Value, hostId, State.Version);
    }

    public Task<SegmentSnapshot> GetAsync() => Task.FromResult(Snapshot(Vni));

    public async Task ResetAsync()
    {
        var vni = Vni;
        var removed = State.FloodList.Select(e => new FloodListEntry(e.Key, e.Value)).ToList();
        State.FloodList.Clear();
        // One delta per entry, as for any leave, so a subscriber applying them stays in step.
        foreach (var entry in removed)
        {
            await CommitAsync(vni, null, entry);
        }

        Log.Reset(logger, vni.Value, removed.Count);

        // A new segment on this VNI is a new activation, with a new epoch subscribers re-snapshot on.
        DeactivateOnIdle();
    }

    public Task<SegmentSnapshot> SubscribeAsync(ISegmentObserver observer)
    {
        var vni = Vni;
        Guard.NotNull(observer, "observer");
        _observers.Subscribe(observer, observer);
        return Task.FromResult(Snapshot(vni));
    }

    public Task UnsubscribeAsync(ISegmentObserver observer)
    {
        if (observer is not null)
        {
            _observers.Unsubscribe(observer);
        }

        return Task.CompletedTask;
    }

    private SegmentSnapshot Snapshot(Vni vni)
        => new(vni, _epoch, State.Version, [.. State.FloodList.Select(e => new FloodListEntry(e.Key, e.Value))]);

    private async Task CommitAsync(Vni vni, FloodListEntry? added, FloodListEntry? removed)
    {
        State.Version++;
        await state.WriteOrDeactivateAsync(this);

        // After the write: a subscriber never sees a version that a new activation would not have.
        var delta = new SegmentDelta(vni, _epoch, State.Version, added, removed);
        _observers.Notify(o => o.OnSegmentChanged(delta));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = GrainsEventIds.FloodListJoined, Level = LogLevel.Information, Message = "VNI {Vni}: host {HostId} joined the flood list at VTEP {Vtep} (version {Version})")]
        public static partial void Joined(ILogger logger, uint vni, string hostId, IPAddress vtep, long version);

        [LoggerMessage(EventId = GrainsEventIds.FloodListLeft, Level = LogLevel.Information, Message = "VNI {Vni}: host {HostId} left the flood list (version {Version})")]
        public static partial void Left(ILogger logger, uint vni, string hostId, long version);

        [LoggerMessage(EventId = GrainsEventIds.SegmentReset, Level = LogLevel.Information, Message = "VNI {Vni}: segment reset ({Count} flood-list entr(ies) removed, external VTEPs among them); the next segment on this VNI starts empty")]
        public static partial void Reset(ILogger logger, uint vni, int count);
    }
}
