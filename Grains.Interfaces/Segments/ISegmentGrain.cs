using System.Net;
using Fabric.Addressing;
using Orleans.Concurrency;

namespace Fabric.Grains;

/// <summary>
/// A VXLAN segment. Key: the VNI value. Holds the flood list: the VTEP of every host with a port
/// in the segment, the head-end replication list for BUM traffic (RFC 7348 §4.2, RFC 8365 §9).
/// </summary>
[Alias("fabric.segment")]
public interface ISegmentGrain : IGrainWithIntegerKey
{
    /// <summary>Adds the host (or moves it to a new VTEP). Idempotent: the same host and VTEP changes nothing.</summary>
    [Alias("join")]
    Task<SegmentSnapshot> JoinAsync(string hostId, IPAddress vtep);

    /// <summary>Removes the host; does nothing if it is not in the flood list.</summary>
    [Alias("leave")]
    Task LeaveAsync(string hostId);

    [ReadOnly, Alias("get")]
    Task<SegmentSnapshot> GetAsync();

    /// <summary>
    /// Subscribes (or refreshes) an observer and returns the snapshot the deltas follow. A
    /// subscription expires unless refreshed; an observer that sees a new <see cref="SegmentSnapshot.Epoch"/>
    /// or a gap in versions takes the snapshot again.
    /// </summary>
    [Alias("subscribe")]
    Task<SegmentSnapshot> SubscribeAsync(ISegmentObserver observer);

    [Alias("unsubscribe")]
    Task UnsubscribeAsync(ISegmentObserver observer);
}

[Alias("fabric.segment-observer")]
public interface ISegmentObserver : IGrainObserver
{
    [Alias("on-segment-changed")]
    void OnSegmentChanged(SegmentDelta delta);
}

/// <summary>
/// The flood list of a segment at <see cref="Version"/>. <see cref="Epoch"/> is new for every
/// activation of the segment grain; versions are comparable only within one epoch's deltas, but
/// they never go back (the version is persisted).
/// </summary>
[GenerateSerializer, Immutable, Alias("fabric.segment-snapshot")]
public sealed record SegmentSnapshot(
    [property: Id(0)] Vni Vni,
    [property: Id(1)] Guid Epoch,
    [property: Id(2)] long Version,
    [property: Id(3)] IReadOnlyList<FloodListEntry> FloodList);

[GenerateSerializer, Immutable, Alias("fabric.flood-list-entry")]
public sealed record FloodListEntry([property: Id(0)] string HostId, [property: Id(1)] IPAddress Vtep);

/// <summary>
/// One change of a flood list: the state after it is <see cref="Version"/>, the one before it
/// <c>Version - 1</c>. A host changing VTEP has both <see cref="Removed"/> and <see cref="Added"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("fabric.segment-delta")]
public sealed record SegmentDelta(
    [property: Id(0)] Vni Vni,
    [property: Id(1)] Guid Epoch,
    [property: Id(2)] long Version,
    [property: Id(3)] FloodListEntry? Added,
    [property: Id(4)] FloodListEntry? Removed);
