using System.Net;
using Fabric.Addressing;
using Orleans.Concurrency;

namespace Fabric.Grains;

/// <summary>
/// The MAC table (FDB) of one VXLAN segment: where each MAC is (host, VTEP, port), and the IPv4 →
/// MAC bindings that agents use for ARP suppression. Key: the VNI value, 1..16777215 (RFC 7348 §5).
/// Implements EVPN MAC mobility (RFC 7432 §15) and duplicate MAC detection (RFC 7432 §15.1), and
/// the same for IP bindings: a newer claim of an address by another MAC moves the binding with a
/// higher sequence, an address that keeps moving is flagged duplicate (RFC 9161 §3, RFC 7432 §15.1).
/// </summary>
/// <remarks>
/// <para>
/// Soft state, rebuilt from what agents learn and persisted for fast failover. A MAC learned at an
/// agent host does not age here: it leaves when its host is withdrawn (declared dead, unregistered,
/// left the segment, changed VTEP) or when it is removed. A MAC learned behind an external VTEP (host
/// id <c>external-{address}</c>, see <see cref="ExternalVteps"/>) has no host to withdraw it: it ages
/// out after <c>Fabric:MacMobility:ExternalAgingTime</c> (300 s) unless an agent learns it again.
/// One grain per VNI is a serialization point, so agents call it with batches, never per frame.
/// </para>
/// <para>
/// Versions: every call that changes the table increments <c>Version</c> by exactly one, persists,
/// and only then pushes one <see cref="MacTableDelta"/> to subscribers. The version is persisted and
/// never goes back; <c>Epoch</c> is new for every activation. A call that changes nothing neither
/// bumps the version nor pushes.
/// </para>
/// <para>
/// Errors: with a key outside 1..16777215 every method but <see cref="UnsubscribeAsync"/> throws
/// <see cref="FabricValidationException"/> (field <c>vni</c>). A failed storage write throws the
/// storage provider's exception (for example <c>Orleans.Storage.InconsistentStateException</c>) and
/// the activation is dropped, so the next call reads what was stored.
/// </para>
/// </remarks>
[Alias("fabric.mac-table")]
public interface IMacTableGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Learns a batch of source MACs seen by agents, in order, with at most one new version and one
    /// delta for the whole batch. Per request: a new MAC is <see cref="MacLearnResult.Learned"/>
    /// (sequence 1); a MAC already there is <see cref="MacLearnResult.Unchanged"/>; a MAC at another
    /// location moves (sequence + 1; the delta names the previous location, so its old holder stops
    /// delivering it), unless it moved more than <c>Fabric:MacMobility:MaxMoves</c> times (5) within
    /// <c>Window</c> (180 s), when it is frozen where it was; a static or frozen MAC elsewhere is
    /// refused. A request's <see cref="MacLearnRequest.Ip"/> is a claim of that address by the MAC,
    /// taken when the MAC was learned, moved or unchanged: the address is bound to it (sequence 1), or
    /// moves to it from another MAC (sequence + 1), unless it moved more than <c>MaxMoves</c> times
    /// within <c>Window</c>, when it is flagged duplicate where it was and no longer proxied, and
    /// further claims are refused until <see cref="RemoveIpBindingAsync"/> clears it.
    /// </summary>
    /// <param name="batch">At most 4096 requests, typically everything an agent learned in one VNI since its last publish.</param>
    /// <returns>One outcome per request, in order.</returns>
    /// <exception cref="FabricValidationException">
    /// The whole batch is validated before anything changes, and refused as a whole: the batch is
    /// null or has more than 4096 entries, or an entry is null (field <c>batch</c>); a MAC is
    /// multicast, broadcast or zero (<c>mac</c>); a host id or port is not a valid name
    /// (<c>hostId</c>, <c>port</c>); a VTEP is not a unicast address (<c>vtep</c>); an IP is not a
    /// unicast IPv4 address (<c>ip</c>).
    /// </exception>
    [Alias("learn")]
    Task<IReadOnlyList<MacLearnOutcome>> LearnAsync(IReadOnlyList<MacLearnRequest> batch);

    /// <summary>
    /// Pins a MAC to a location: learning never moves a static entry (EVPN's sticky MAC, RFC 7432
    /// §15.2). The sequence is 1 for a new MAC, + 1 when the location changes, kept otherwise; a
    /// frozen MAC is unfrozen. Idempotent for a static entry already at that location. The MAC's IP
    /// bindings are kept. The host is not checked: a MAC behind an external VTEP uses a host id of
    /// its own (the management API uses <c>external-{address}</c>).
    /// </summary>
    /// <param name="mac">A unicast, non-zero MAC.</param>
    /// <param name="hostId">The host that has the MAC; follows <see cref="FabricNames"/>.</param>
    /// <param name="vtep">That host's VTEP: a unicast IPv4 or IPv6 address.</param>
    /// <param name="port">The port on that host; follows <see cref="FabricNames"/>.</param>
    /// <returns>The static entry.</returns>
    /// <exception cref="FabricValidationException">Field <c>mac</c>, <c>hostId</c>, <c>vtep</c> or <c>port</c> is invalid, as for <see cref="LearnAsync"/>.</exception>
    [Alias("set-static")]
    Task<MacEntry> SetStaticAsync(MacAddress mac, string hostId, IPAddress vtep, string port);

    /// <summary>Removes a MAC, static, learned or frozen, with its IP bindings.</summary>
    /// <param name="mac">Any MAC; one that is not in the table changes nothing.</param>
    /// <returns>False if the MAC was not in the table.</returns>
    [Alias("remove")]
    Task<bool> RemoveAsync(MacAddress mac);

    /// <summary>
    /// Withdraws every learned or frozen (non-static) MAC located at a host, with their IP bindings,
    /// as an EVPN PE's MAC routes are withdrawn when it goes away. Called by the host grain.
    /// </summary>
    /// <param name="hostId">A host id that follows <see cref="FabricNames"/>.</param>
    /// <returns>How many MACs were withdrawn (0 changes nothing).</returns>
    /// <exception cref="FabricValidationException">Field <c>hostId</c>: not a valid name.</exception>
    [Alias("withdraw-host")]
    Task<int> WithdrawHostAsync(string hostId);

    /// <summary>
    /// Withdraws every learned or frozen (non-static) MAC located at <paramref name="hostId"/> on one
    /// of <paramref name="ports"/>, with their IP bindings: the ports were detached (a container
    /// removed), so what was learned on them is gone while the host stays. Called by the host grain
    /// when a registration drops ports.
    /// </summary>
    /// <param name="hostId">A host id that follows <see cref="FabricNames"/>.</param>
    /// <param name="ports">Port names as the agent published them (the interface; a trunk's MACs carry the trunk's interface).</param>
    /// <returns>How many MACs were withdrawn (0 changes nothing).</returns>
    /// <exception cref="FabricValidationException">Field <c>hostId</c>: not a valid name; <c>ports</c>: null.</exception>
    [Alias("withdraw-ports")]
    Task<int> WithdrawPortsAsync(string hostId, IReadOnlyList<string> ports);

    /// <summary>
    /// Binds an IPv4 address to a MAC in the table, for ARP suppression (RFC 826 requests for the
    /// address are answered by the asker's agent). An IP has one MAC: rebinding moves it (newest
    /// claim wins); a MAC may have several IPs. Binding an IP to the MAC it already has changes nothing.
    /// </summary>
    /// <param name="mac">A unicast, non-zero MAC that is in the table.</param>
    /// <param name="ip">A unicast IPv4 address: not 0.0.0.0, 255.255.255.255 or 224.0.0.0/4.</param>
    /// <returns>A task that completes once the binding is persisted and pushed.</returns>
    /// <exception cref="FabricValidationException">Field <c>mac</c> or <c>ip</c> is invalid.</exception>
    /// <exception cref="FabricNotFoundException">Kind <c>mac</c>: the MAC is not in the table.</exception>
    [Alias("bind-ip")]
    Task BindIpAsync(MacAddress mac, IPAddress ip);

    /// <summary>
    /// Removes the binding of <paramref name="ip"/>, duplicate or not, so the next claim binds it
    /// afresh (how an operator clears a duplicate address once the conflict is resolved).
    /// </summary>
    /// <param name="ip">Any address; one that is not bound changes nothing.</param>
    /// <returns>False if the address was not bound.</returns>
    [Alias("remove-ip-binding")]
    Task<bool> RemoveIpBindingAsync(IPAddress ip);

    /// <summary>
    /// Ends the table: every entry and binding goes, the state is written empty, and the activation
    /// ends, so the next one (a new segment on this VNI) has a new epoch and subscribers take its
    /// snapshot. Called when a VNI is released by its port group or claimed by a new one; a
    /// re-used VNI never inherits the last tenant's MACs.
    /// </summary>
    /// <returns>A task that completes once the empty state is persisted.</returns>
    [Alias("reset")]
    Task ResetAsync();

    /// <summary>The whole table at its current version.</summary>
    /// <returns>Entries in MAC order, and the IP bindings.</returns>
    [ReadOnly, Alias("get-snapshot")]
    Task<MacTableSnapshot> GetSnapshotAsync();

    /// <summary>
    /// Subscribes <paramref name="observer"/> to this table's deltas, or renews its subscription, and
    /// returns the snapshot the deltas follow. Subscriptions are hints: they live in this activation's
    /// memory only, expire after <c>Fabric:Observers:SubscriptionExpiry</c> (2 minutes) unless renewed,
    /// and are lost with the activation, so a subscriber renews on a timer and takes a snapshot when it
    /// sees a new epoch or a version gap.
    /// </summary>
    /// <param name="observer">A grain observer reference (for a client, from <c>IGrainFactory.CreateObjectReference</c>).</param>
    /// <returns>The table at the version the next delta follows.</returns>
    /// <exception cref="FabricValidationException">Field <c>observer</c>: null.</exception>
    [Alias("subscribe")]
    Task<MacTableSnapshot> SubscribeAsync(IMacTableObserver observer);

    /// <summary>Ends a subscription; does nothing for null or an observer that is not subscribed.</summary>
    /// <param name="observer">The observer reference given to <see cref="SubscribeAsync"/>.</param>
    /// <returns>A completed task.</returns>
    [Alias("unsubscribe")]
    Task UnsubscribeAsync(IMacTableObserver observer);
}

/// <summary>Receives a MAC table's deltas (see <see cref="IMacTableGrain.SubscribeAsync"/>).</summary>
[Alias("fabric.mac-table-observer")]
public interface IMacTableObserver : IGrainObserver
{
    /// <summary>
    /// One change of the table. A one-way call: it may be lost, and two of them may arrive out of
    /// order. Apply a delta only if its <see cref="MacTableDelta.Epoch"/> is the one you hold and its
    /// <see cref="MacTableDelta.Version"/> is yours + 1; on a new epoch or a higher version, take a
    /// snapshot; ignore an older version. Return quickly: fetch a snapshot elsewhere, not in here.
    /// </summary>
    /// <param name="delta">The changes from version - 1 to version.</param>
    [Alias("on-mac-table-changed")]
    void OnMacTableChanged(MacTableDelta delta);
}

/// <summary>
/// A source MAC an agent saw on one of its ports: an EVPN MAC route, or with <see cref="Ip"/> a
/// MAC/IP route (RFC 7432 §7.2).
/// </summary>
/// <param name="Mac">The source MAC: unicast and not zero (the IEEE 802 I/G bit clear).</param>
/// <param name="HostId">The host that saw it; follows <see cref="FabricNames"/>.</param>
/// <param name="Vtep">That host's VTEP: a unicast IPv4 or IPv6 address.</param>
/// <param name="Port">The port it was seen on; follows <see cref="FabricNames"/>.</param>
/// <param name="Ip">An IPv4 unicast address the MAC claimed (in ARP, RFC 826), to bind for ARP suppression; null for none.</param>
[GenerateSerializer, Immutable, Alias("fabric.mac-learn-request")]
public sealed record MacLearnRequest(
    [property: Id(0)] MacAddress Mac,
    [property: Id(1)] string HostId,
    [property: Id(2)] IPAddress Vtep,
    [property: Id(3)] string Port,
    [property: Id(4)] IPAddress? Ip = null);

/// <summary>What learning did with one request.</summary>
[GenerateSerializer, Alias("fabric.mac-learn-result")]
public enum MacLearnResult
{
    /// <summary>A new MAC: sequence 1.</summary>
    Learned = 0,

    /// <summary>Already at that location: nothing changed.</summary>
    Unchanged = 1,

    /// <summary>Moved from another location: sequence + 1 (RFC 7432 §15).</summary>
    Moved = 2,

    /// <summary>This move crossed the duplicate threshold: the entry is frozen at its current location (RFC 7432 §15.1).</summary>
    Frozen = 3,

    /// <summary>Refused: the MAC is frozen elsewhere.</summary>
    RejectedFrozen = 4,

    /// <summary>Refused: the MAC is static elsewhere.</summary>
    RejectedStatic = 5,
}

/// <summary>The result of one learn request.</summary>
/// <param name="Mac">The MAC of the request.</param>
/// <param name="Result">What learning did.</param>
/// <param name="Entry">The entry as it now stands: for a refused or frozen request, the one at the location that kept the MAC.</param>
[GenerateSerializer, Immutable, Alias("fabric.mac-learn-outcome")]
public sealed record MacLearnOutcome([property: Id(0)] MacAddress Mac, [property: Id(1)] MacLearnResult Result, [property: Id(2)] MacEntry Entry);

/// <summary>Where a MAC is.</summary>
/// <param name="HostId">The host (or <c>external-{address}</c> for a MAC behind an external VTEP).</param>
/// <param name="Vtep">The VTEP that reaches it on the underlay.</param>
/// <param name="Port">The port on that host (<c>external</c> behind an external VTEP).</param>
[GenerateSerializer, Immutable, Alias("fabric.mac-location")]
public sealed record MacLocation([property: Id(0)] string HostId, [property: Id(1)] IPAddress Vtep, [property: Id(2)] string Port);

/// <summary>A MAC table entry.</summary>
/// <param name="Mac">The MAC: unicast, not zero.</param>
/// <param name="HostId">The host that has it.</param>
/// <param name="Vtep">That host's VTEP on the underlay.</param>
/// <param name="Port">The port on that host.</param>
/// <param name="Sequence">The mobility sequence number (RFC 7432 §15): 1 on first learn, + 1 per move; the higher one wins.</param>
/// <param name="LearnedAt">When the MAC was learned, moved or set static here (UTC, the silo's clock). Learning it again at the same place does not change it.</param>
/// <param name="Static">Set by an operator; learning never moves it.</param>
/// <param name="Frozen">
/// Duplicate detection (RFC 7432 §15.1) stopped following this MAC: it stays at this location,
/// and learning elsewhere is refused, until it is removed or set static.
/// </param>
[GenerateSerializer, Immutable, Alias("fabric.mac-entry")]
public sealed record MacEntry(
    [property: Id(0)] MacAddress Mac,
    [property: Id(1)] string HostId,
    [property: Id(2)] IPAddress Vtep,
    [property: Id(3)] string Port,
    [property: Id(4)] long Sequence,
    [property: Id(5)] DateTimeOffset LearnedAt,
    [property: Id(6)] bool Static,
    [property: Id(7)] bool Frozen)
{
    /// <summary>The entry's host, VTEP and port.</summary>
    public MacLocation Location => new(HostId, Vtep, Port);
}

/// <summary>An IPv4 address bound to a MAC for ARP suppression.</summary>
/// <param name="Ip">A unicast IPv4 address; bound to one MAC.</param>
/// <param name="Mac">A MAC in the table.</param>
/// <param name="Sequence">The binding's mobility sequence: 1 when first bound, + 1 each time a newer claim moved it to another MAC (RFC 9161 §3).</param>
/// <param name="Duplicate">
/// The address moved between MACs more than <c>MaxMoves</c> times within <c>Window</c>: two hosts
/// claim it. It stays bound to <see cref="Mac"/> but agents no longer answer ARP for it (requests
/// are flooded, so both claimants see the conflict), and claims are refused until it is removed.
/// </param>
[GenerateSerializer, Immutable, Alias("fabric.ip-binding")]
public sealed record IpBinding(
    [property: Id(0)] IPAddress Ip,
    [property: Id(1)] MacAddress Mac,
    [property: Id(2)] long Sequence = 1,
    [property: Id(3)] bool Duplicate = false);

/// <summary>A MAC table at one version.</summary>
/// <param name="Vni">The segment.</param>
/// <param name="Epoch">The activation that answered: new for every activation of the grain.</param>
/// <param name="Version">The version; deltas of the same epoch follow from it. 0 for a table that never changed.</param>
/// <param name="Entries">Every entry, in MAC order.</param>
/// <param name="IpBindings">Every IP binding, in no particular order.</param>
[GenerateSerializer, Immutable, Alias("fabric.mac-table-snapshot")]
public sealed record MacTableSnapshot(
    [property: Id(0)] Vni Vni,
    [property: Id(1)] Guid Epoch,
    [property: Id(2)] long Version,
    [property: Id(3)] IReadOnlyList<MacEntry> Entries,
    [property: Id(4)] IReadOnlyList<IpBinding> IpBindings);

/// <summary>What happened to one MAC in a <see cref="MacChange"/>.</summary>
[GenerateSerializer, Alias("fabric.mac-change-kind")]
public enum MacChangeKind
{
    /// <summary>A new entry.</summary>
    Learned = 0,

    /// <summary>The entry moved to a new location with a higher sequence; <see cref="MacChange.Previous"/> is the old one.</summary>
    Moved = 1,

    /// <summary>Duplicate detection froze the entry at its location (RFC 7432 §15.1).</summary>
    Frozen = 2,

    /// <summary>The entry was removed or withdrawn; <see cref="MacChange.Entry"/> is what it was.</summary>
    Removed = 3,

    /// <summary>The entry was set static; <see cref="MacChange.Previous"/> is the old location if it moved.</summary>
    Static = 4,
}

/// <summary>
/// One MAC's change. For <see cref="MacChangeKind.Moved"/> (and a static entry replacing one at another
/// location), <see cref="Previous"/> is the old location: the old holder is told through the same delta.
/// </summary>
/// <param name="Kind">What happened.</param>
/// <param name="Entry">The entry after the change; for <see cref="MacChangeKind.Removed"/>, the entry that was removed.</param>
/// <param name="Previous">The location the MAC left, or null.</param>
[GenerateSerializer, Immutable, Alias("fabric.mac-change")]
public sealed record MacChange(
    [property: Id(0)] MacChangeKind Kind,
    [property: Id(1)] MacEntry Entry,
    [property: Id(2)] MacLocation? Previous);

/// <summary>An IP binding change.</summary>
/// <param name="Ip">The IPv4 address.</param>
/// <param name="Mac">The MAC it is now bound to; null when the IP is no longer bound (its MAC was removed, or the binding was).</param>
/// <param name="Sequence">The binding's sequence after the change (see <see cref="IpBinding.Sequence"/>); 0 when unbound.</param>
/// <param name="Duplicate">Whether the binding is now flagged duplicate (see <see cref="IpBinding.Duplicate"/>).</param>
[GenerateSerializer, Immutable, Alias("fabric.ip-binding-change")]
public sealed record IpBindingChange(
    [property: Id(0)] IPAddress Ip,
    [property: Id(1)] MacAddress? Mac,
    [property: Id(2)] long Sequence = 0,
    [property: Id(3)] bool Duplicate = false);

/// <summary>The changes that took the table from <c>Version - 1</c> to <see cref="Version"/>, pushed to every subscriber.</summary>
/// <param name="Vni">The segment.</param>
/// <param name="Epoch">The activation that made the change; compare with the epoch of your snapshot.</param>
/// <param name="Version">The version after the change; exactly one more than the version before it.</param>
/// <param name="Changes">The MACs that changed, in the order the call made them; may be empty when only bindings changed.</param>
/// <param name="IpBindings">The IP bindings that changed; may be empty.</param>
[GenerateSerializer, Immutable, Alias("fabric.mac-table-delta")]
public sealed record MacTableDelta(
    [property: Id(0)] Vni Vni,
    [property: Id(1)] Guid Epoch,
    [property: Id(2)] long Version,
    [property: Id(3)] IReadOnlyList<MacChange> Changes,
    [property: Id(4)] IReadOnlyList<IpBindingChange> IpBindings);
