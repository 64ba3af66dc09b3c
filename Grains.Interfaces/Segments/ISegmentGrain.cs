using System.Net;
using Fabric.Addressing;
using Orleans.Concurrency;

namespace Fabric.Grains;

/// <summary>
/// A VXLAN segment. Key: the VNI value, 1..16777215 (RFC 7348 §5). Holds the flood list: the VTEP
/// of every host with a port in the segment, the head-end replication list for broadcast, unknown
/// unicast and multicast traffic (RFC 7348 §4.2, RFC 8365 §9), and the VTEPs from which a host
/// accepts the segment's datagrams.
/// </summary>
/// <remarks>
/// <para>
/// Derived from the hosts' registrations (the host grain joins and leaves), persisted so that a new
/// activation after a silo loss answers at once. External VTEPs (a kernel or hardware VTEP with no
/// agent) are joined by the management API under the host id <c>external-{address}</c>.
/// </para>
/// <para>
/// Versions: every change increments <c>Version</c> by exactly one, persists, and only then pushes
/// one <see cref="SegmentDelta"/> to subscribers. The version is persisted and never goes back;
/// <c>Epoch</c> is new for every activation. A call that changes nothing neither bumps nor pushes.
/// </para>
/// <para>
/// Errors: with a key outside 1..16777215 every method but <see cref="UnsubscribeAsync"/> throws
/// <see cref="FabricValidationException"/> (field <c>vni</c>). A failed storage write throws the
/// storage provider's exception (for example <c>Orleans.Storage.InconsistentStateException</c>) and
/// the activation is dropped, so the next call reads what was stored.
/// </para>
/// </remarks>
[Alias("fabric.segment")]
public interface ISegmentGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Adds the host to the flood list, or moves it to a new VTEP (one delta with both
    /// <see cref="SegmentDelta.Removed"/> and <see cref="SegmentDelta.Added"/>). Idempotent: the same
    /// host and VTEP change nothing.
    /// </summary>
    /// <param name="hostId">The host id; follows <see cref="FabricNames"/>.</param>
    /// <param name="vtep">The host's VTEP: a unicast IPv4 or IPv6 address (not unspecified, multicast or broadcast).</param>
    /// <returns>The flood list after the change.</returns>
    /// <exception cref="FabricValidationException">Field <c>hostId</c> or <c>vtep</c> is invalid.</exception>
    [Alias("join")]
    Task<SegmentSnapshot> JoinAsync(string hostId, IPAddress vtep);

    /// <summary>Removes the host from the flood list; does nothing for null or a host that is not in it.</summary>
    /// <param name="hostId">The host id.</param>
    /// <returns>A task that completes once the change is persisted and pushed.</returns>
    [Alias("leave")]
    Task LeaveAsync(string hostId);

    /// <summary>The flood list at its current version.</summary>
    /// <returns>The flood list, in host id order (ordinal).</returns>
    [ReadOnly, Alias("get")]
    Task<SegmentSnapshot> GetAsync();

    /// <summary>
    /// Ends the segment: the flood list (agent hosts and external VTEPs alike) is emptied and written,
    /// and the activation ends, so the next one (a new segment on this VNI) has a new epoch and
    /// subscribers take its snapshot. Called when a VNI is released by its port group or claimed by a
    /// new one: a re-used VNI never sends a new tenant's broadcasts to the last tenant's VTEPs.
    /// </summary>
    /// <returns>A task that completes once the empty state is persisted.</returns>
    [Alias("reset")]
    Task ResetAsync();

    /// <summary>
    /// Subscribes <paramref name="observer"/> to this segment's deltas, or renews its subscription,
    /// and returns the snapshot the deltas follow. Subscriptions are hints: they live in this
    /// activation's memory only, expire after <c>Fabric:Observers:SubscriptionExpiry</c> (2 minutes)
    /// unless renewed, and are lost with the activation, so a subscriber renews on a timer and takes
    /// a snapshot when it sees a new <see cref="SegmentSnapshot.Epoch"/> or a version gap.
    /// </summary>
    /// <param name="observer">A grain observer reference (for a client, from <c>IGrainFactory.CreateObjectReference</c>).</param>
    /// <returns>The flood list at the version the next delta follows.</returns>
    /// <exception cref="FabricValidationException">Field <c>observer</c>: null.</exception>
    [Alias("subscribe")]
    Task<SegmentSnapshot> SubscribeAsync(ISegmentObserver observer);

    /// <summary>Ends a subscription; does nothing for null or an observer that is not subscribed.</summary>
    /// <param name="observer">The observer reference given to <see cref="SubscribeAsync"/>.</param>
    /// <returns>A completed task.</returns>
    [Alias("unsubscribe")]
    Task UnsubscribeAsync(ISegmentObserver observer);
}

/// <summary>Receives a segment's deltas (see <see cref="ISegmentGrain.SubscribeAsync"/>).</summary>
[Alias("fabric.segment-observer")]
public interface ISegmentObserver : IGrainObserver
{
    /// <summary>
    /// One change of the flood list. A one-way call: it may be lost, and two of them may arrive out
    /// of order. Apply a delta only if its <see cref="SegmentDelta.Epoch"/> is the one you hold and
    /// its <see cref="SegmentDelta.Version"/> is yours + 1; on a new epoch or a higher version, take
    /// a snapshot; ignore an older version. Return quickly: fetch a snapshot elsewhere, not in here.
    /// </summary>
    /// <param name="delta">The change from version - 1 to version.</param>
    [Alias("on-segment-changed")]
    void OnSegmentChanged(SegmentDelta delta);
}

/// <summary>
/// The flood list of a segment at <see cref="Version"/>. <see cref="Epoch"/> is new for every
/// activation of the segment grain; versions are comparable only within one epoch's deltas, but
/// they never go back (the version is persisted).
/// </summary>
/// <param name="Vni">The segment.</param>
/// <param name="Epoch">The activation that answered.</param>
/// <param name="Version">The version; deltas of the same epoch follow from it. 0 for a segment that never changed.</param>
/// <param name="FloodList">One entry per host, in host id order (ordinal).</param>
[GenerateSerializer, Immutable, Alias("fabric.segment-snapshot")]
public sealed record SegmentSnapshot(
    [property: Id(0)] Vni Vni,
    [property: Id(1)] Guid Epoch,
    [property: Id(2)] long Version,
    [property: Id(3)] IReadOnlyList<FloodListEntry> FloodList);

/// <summary>A host in a flood list.</summary>
/// <param name="HostId">The host id, or <c>external-{address}</c> for an external VTEP.</param>
/// <param name="Vtep">The VTEP to replicate to, and to accept the segment's datagrams from.</param>
[GenerateSerializer, Immutable, Alias("fabric.flood-list-entry")]
public sealed record FloodListEntry([property: Id(0)] string HostId, [property: Id(1)] IPAddress Vtep);

/// <summary>
/// One change of a flood list: the state after it is <see cref="Version"/>, the one before it
/// <c>Version - 1</c>. A host changing VTEP has both <see cref="Removed"/> and <see cref="Added"/>.
/// </summary>
/// <param name="Vni">The segment.</param>
/// <param name="Epoch">The activation that made the change; compare with the epoch of your snapshot.</param>
/// <param name="Version">The version after the change.</param>
/// <param name="Added">The host that joined, or its new VTEP; null if none.</param>
/// <param name="Removed">The host that left, or its old VTEP; null if none.</param>
[GenerateSerializer, Immutable, Alias("fabric.segment-delta")]
public sealed record SegmentDelta(
    [property: Id(0)] Vni Vni,
    [property: Id(1)] Guid Epoch,
    [property: Id(2)] long Version,
    [property: Id(3)] FloodListEntry? Added,
    [property: Id(4)] FloodListEntry? Removed);
