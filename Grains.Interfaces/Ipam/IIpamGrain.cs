using System.Net;

namespace Fabric.Grains;

/// <summary>
/// Cluster-wide IPAM of one port group (key <see cref="KeyOf"/>: <c>switch/portGroup</c>): hands out
/// the addresses of the port group's <see cref="PortGroup.Ipv4"/> pool. One activation serialises
/// every request for the port group, and each change is written to grain storage before the call
/// returns, so no address is handed out twice across hosts, also across a silo failover.
/// Allocation is idempotent per owner; addresses are taken in turn after the last one handed out
/// (as CNI's host-local plugin does), so a just-released address is not reused at once while
/// neighbours may still cache its old MAC.
/// </summary>
public interface IIpamGrain : IGrainWithStringKey
{
    /// <summary>The grain key of port group <paramref name="portGroup"/> of switch <paramref name="switchName"/>.</summary>
    static string KeyOf(string switchName, string portGroup) => $"{switchName}/{portGroup}";

    /// <summary>
    /// An address for <paramref name="request"/>'s owner: the one it already holds, or the requested
    /// one if free, or the next free one of the pool.
    /// </summary>
    /// <exception cref="FabricNotFoundException">The switch or port group does not exist.</exception>
    /// <exception cref="FabricValidationException">
    /// <c>ipv4</c>: the port group has no IPv4 pool; <c>ip</c>: the requested address is not
    /// allocatable or is held by another owner; <c>owner</c>/<c>hostId</c>: bad names;
    /// <c>ipv4.ranges</c>: the pool is exhausted.
    /// </exception>
    Task<IpAllocation> AllocateAsync(IpAllocationRequest request);

    /// <summary>Releases the address <paramref name="owner"/> holds; false when it holds none (idempotent).</summary>
    Task<bool> ReleaseAsync(string owner);

    /// <summary>Releases <paramref name="address"/> whoever holds it (an operator freeing a leaked address); false when it is free.</summary>
    Task<bool> ReleaseAddressAsync(IPAddress address);

    /// <summary>Every allocation, in address order.</summary>
    Task<IReadOnlyList<IpAllocation>> ListAsync();

    /// <summary>
    /// Releases every allocation of host <paramref name="hostId"/> whose owner is not in
    /// <paramref name="validOwners"/> (CNI GC's <c>cni.dev/valid-attachments</c>, or the ports a
    /// restarted agent still has), except DHCP leases (<see cref="IpAllocationRequest.DhcpOwnerPrefix"/>);
    /// returns what was released.
    /// </summary>
    Task<IReadOnlyList<IpAllocation>> GarbageCollectAsync(string hostId, IReadOnlyCollection<string> validOwners);
}

/// <summary>A request for an address.</summary>
/// <param name="Owner">
/// Who holds the address: for CNI <c>containerId/ifName</c> (the attachment's identity, CNI spec
/// §"Attachment"), for a port <c>host/port</c>; 1..256 printable ASCII characters.
/// </param>
/// <param name="HostId">The host the owner is on (for GC per host).</param>
/// <param name="Requested">A specific address (CNI's <c>ips</c> capability), or null for any.</param>
/// <param name="LeaseSeconds">
/// A DHCP lease (RFC 2131 §3.3): the allocation expires this many seconds (1..604800) from this call
/// unless asked for again, and is then free for others; null for an allocation that lasts until
/// released. Asking again with a lease extends it (a renewal; never shortened, and an allocation
/// made without a lease stays without one).
/// </param>
[GenerateSerializer, Immutable, Alias("fabric.ip-allocation-request")]
public sealed record IpAllocationRequest(
    [property: Id(0)] string Owner,
    [property: Id(1)] string HostId,
    [property: Id(2)] IPAddress? Requested = null,
    [property: Id(3)] int? LeaseSeconds = null)
{
    /// <summary>
    /// The start of a DHCP lease's owner, <c>dhcp/{client MAC}</c>: a lease is its client's, wherever
    /// it runs, so per-host garbage collection (<see cref="IIpamGrain.GarbageCollectAsync"/>) leaves
    /// it alone; DHCPRELEASE, DHCPDECLINE or an operator frees it.
    /// </summary>
    public const string DhcpOwnerPrefix = "dhcp/";
}

/// <summary>An address handed out.</summary>
/// <param name="Address">The IPv4 address.</param>
/// <param name="PrefixLength">The subnet's prefix length, for the interface's address (10.20.0.7/24).</param>
/// <param name="Gateway">The port group's gateway, or null.</param>
/// <param name="Owner">See <see cref="IpAllocationRequest.Owner"/>.</param>
/// <param name="HostId">See <see cref="IpAllocationRequest.HostId"/>.</param>
/// <param name="AllocatedAt">When it was handed out (UTC).</param>
/// <param name="ExpiresAt">When a lease ends unless renewed (UTC); null for an allocation that lasts until released.</param>
[GenerateSerializer, Immutable, Alias("fabric.ip-allocation")]
public sealed record IpAllocation(
    [property: Id(0)] IPAddress Address,
    [property: Id(1)] int PrefixLength,
    [property: Id(2)] IPAddress? Gateway,
    [property: Id(3)] string Owner,
    [property: Id(4)] string HostId,
    [property: Id(5)] DateTimeOffset AllocatedAt,
    [property: Id(6)] DateTimeOffset? ExpiresAt = null);
