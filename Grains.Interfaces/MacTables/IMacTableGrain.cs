using System.Net;
using Fabric.Addressing;
using Orleans.Concurrency;

namespace Fabric.Grains;

/// <summary>
/// The MAC table (FDB) of one VXLAN segment. Key: the VNI value. Soft state, rebuilt from what
/// agents learn; persisted for fast failover. Implements EVPN MAC mobility (RFC 7432 §15) and
/// duplicate MAC detection (RFC 7432 §15.1).
/// </summary>
[Alias("fabric.mac-table")]
public interface IMacTableGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Learns a batch of source MACs seen by agents. The whole batch is validated first: an invalid
    /// MAC (multicast, broadcast, zero), host, port or VTEP rejects the batch with
    /// <see cref="FabricValidationException"/> and changes nothing. Otherwise one outcome per request,
    /// in order, and at most one delta for the batch.
    /// </summary>
    [Alias("learn")]
    Task<IReadOnlyList<MacLearnOutcome>> LearnAsync(IReadOnlyList<MacLearnRequest> batch);

    /// <summary>Pins a MAC to a location. Learning never moves a static entry.</summary>
    [Alias("set-static")]
    Task<MacEntry> SetStaticAsync(MacAddress mac, string hostId, IPAddress vtep, string port);

    /// <summary>Removes a MAC (static, learned or frozen) and its IP bindings. Returns false if it was not there.</summary>
    [Alias("remove")]
    Task<bool> RemoveAsync(MacAddress mac);

    /// <summary>Withdraws every learned (non-static) MAC of a host, like an EVPN route withdraw on host death. Returns how many.</summary>
    [Alias("withdraw-host")]
    Task<int> WithdrawHostAsync(string hostId);

    /// <summary>
    /// Binds an IPv4 address to a MAC in the table, for ARP suppression (an IP has one MAC; rebinding
    /// moves it). Throws <see cref="FabricNotFoundException"/> when the MAC is not in the table.
    /// </summary>
    [Alias("bind-ip")]
    Task BindIpAsync(MacAddress mac, IPAddress ip);

    [ReadOnly, Alias("get-snapshot")]
    Task<MacTableSnapshot> GetSnapshotAsync();

    /// <summary>Subscribes or refreshes; subscriptions expire unless refreshed. Returns the snapshot deltas follow.</summary>
    [Alias("subscribe")]
    Task<MacTableSnapshot> SubscribeAsync(IMacTableObserver observer);

    [Alias("unsubscribe")]
    Task UnsubscribeAsync(IMacTableObserver observer);
}

[Alias("fabric.mac-table-observer")]
public interface IMacTableObserver : IGrainObserver
{
    [Alias("on-mac-table-changed")]
    void OnMacTableChanged(MacTableDelta delta);
}

/// <summary>A source MAC an agent saw on one of its ports. <see cref="Ip"/>, when known (ARP/ND), also binds it (an EVPN MAC/IP route).</summary>
[GenerateSerializer, Immutable, Alias("fabric.mac-learn-request")]
public sealed record MacLearnRequest(
    [property: Id(0)] MacAddress Mac,
    [property: Id(1)] string HostId,
    [property: Id(2)] IPAddress Vtep,
    [property: Id(3)] string Port,
    [property: Id(4)] IPAddress? Ip = null);

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

/// <summary>The result of one learn request, with the entry as it now stands.</summary>
[GenerateSerializer, Immutable, Alias("fabric.mac-learn-outcome")]
public sealed record MacLearnOutcome([property: Id(0)] MacAddress Mac, [property: Id(1)] MacLearnResult Result, [property: Id(2)] MacEntry Entry);

/// <summary>Where a MAC is: the host, its VTEP and the port on that host.</summary>
[GenerateSerializer, Immutable, Alias("fabric.mac-location")]
public sealed record MacLocation([property: Id(0)] string HostId, [property: Id(1)] IPAddress Vtep, [property: Id(2)] string Port);

/// <summary>
/// A MAC table entry. <see cref="Sequence"/> is the mobility sequence number (1 on first learn, +1 per
/// move). <see cref="Frozen"/>: duplicate detection stopped following this MAC; it stays here until
/// removed or set static.
/// </summary>
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
    public MacLocation Location => new(HostId, Vtep, Port);
}

[GenerateSerializer, Immutable, Alias("fabric.ip-binding")]
public sealed record IpBinding([property: Id(0)] IPAddress Ip, [property: Id(1)] MacAddress Mac);

[GenerateSerializer, Immutable, Alias("fabric.mac-table-snapshot")]
public sealed record MacTableSnapshot(
    [property: Id(0)] Vni Vni,
    [property: Id(1)] Guid Epoch,
    [property: Id(2)] long Version,
    [property: Id(3)] IReadOnlyList<MacEntry> Entries,
    [property: Id(4)] IReadOnlyList<IpBinding> IpBindings);

[GenerateSerializer, Alias("fabric.mac-change-kind")]
public enum MacChangeKind
{
    Learned = 0,
    Moved = 1,
    Frozen = 2,
    Removed = 3,
    Static = 4,
}

/// <summary>
/// One MAC's change. For <see cref="MacChangeKind.Moved"/> (and a static entry replacing a learned
/// one), <see cref="Previous"/> is the old location: the old holder is told through the same delta.
/// For <see cref="MacChangeKind.Removed"/>, <see cref="Entry"/> is the entry that was removed.
/// </summary>
[GenerateSerializer, Immutable, Alias("fabric.mac-change")]
public sealed record MacChange(
    [property: Id(0)] MacChangeKind Kind,
    [property: Id(1)] MacEntry Entry,
    [property: Id(2)] MacLocation? Previous);

/// <summary>An IP binding change; <see cref="Mac"/> null means the IP is no longer bound.</summary>
[GenerateSerializer, Immutable, Alias("fabric.ip-binding-change")]
public sealed record IpBindingChange([property: Id(0)] IPAddress Ip, [property: Id(1)] MacAddress? Mac);

/// <summary>Changes that took the table from <c>Version - 1</c> to <see cref="Version"/>, pushed to every subscriber.</summary>
[GenerateSerializer, Immutable, Alias("fabric.mac-table-delta")]
public sealed record MacTableDelta(
    [property: Id(0)] Vni Vni,
    [property: Id(1)] Guid Epoch,
    [property: Id(2)] long Version,
    [property: Id(3)] IReadOnlyList<MacChange> Changes,
    [property: Id(4)] IReadOnlyList<IpBindingChange> IpBindings);
