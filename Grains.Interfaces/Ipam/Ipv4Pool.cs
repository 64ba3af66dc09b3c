using System.Buffers.Binary;
using System.Net;

namespace Fabric.Grains;

/// <summary>
/// A port group's IPv4 addressing for IPAM, validated and normalised: the subnet its ports are
/// addressed from, the gateway, and the ranges addresses are handed out from, minus exclusions.
/// The network and broadcast addresses of the subnet and the gateway are never handed out.
/// </summary>
/// <param name="Network">The subnet's network address (host bits zero).</param>
/// <param name="PrefixLength">The subnet's prefix length, <see cref="MinPrefixLength"/>..<see cref="MaxPrefixLength"/>.</param>
/// <param name="Gateway">The default gateway inside the subnet, or null for none.</param>
/// <param name="Ranges">Where addresses are allocated from, sorted, not overlapping, inside the subnet; the whole subnet when none were given.</param>
/// <param name="Exclude">Addresses inside the ranges that are never allocated (static hosts, appliances), sorted.</param>
/// <param name="Dhcp">
/// Whether each host's agent answers DHCP (RFC 2131) on the port group's ports, leasing from this
/// pool; needs a gateway (the router option and the server identifier).
/// </param>
/// <param name="DnsServers">The DNS servers a DHCP lease names (option 6, RFC 2132 §3.8), at most <see cref="MaxDnsServers"/>; empty for none.</param>
/// <param name="LeaseTime">A DHCP lease's time in seconds (option 51), <see cref="MinLeaseTime"/>..<see cref="MaxLeaseTime"/>; <see cref="DefaultLeaseTime"/> unless set.</param>
[GenerateSerializer, Immutable, Alias("fabric.ipv4-pool")]
public sealed record Ipv4Pool(
    [property: Id(0)] IPAddress Network,
    [property: Id(1)] int PrefixLength,
    [property: Id(2)] IPAddress? Gateway,
    [property: Id(3)] IReadOnlyList<Ipv4Range> Ranges,
    [property: Id(4)] IReadOnlyList<Ipv4Range> Exclude,
    [property: Id(5)] bool Dhcp = false,
    [property: Id(6)] IReadOnlyList<IPAddress>? DnsServers = null,
    [property: Id(7)] int LeaseTime = Ipv4Pool.DefaultLeaseTime)
{
    /// <summary>The most DNS servers a lease names: 8.</summary>
    public const int MaxDnsServers = 8;

    /// <summary>The shortest lease, 60 s.</summary>
    public const int MinLeaseTime = 60;

    /// <summary>The longest lease, 7 days (604,800 s).</summary>
    public const int MaxLeaseTime = 7 * 24 * 3600;

    /// <summary>An hour (3,600 s), libvirt's and dnsmasq's default lease time.</summary>
    public const int DefaultLeaseTime = 3600;

    /// <summary>The DNS servers, never null.</summary>
    public IReadOnlyList<IPAddress> Dns => DnsServers ?? [];

    /// <summary>/8: the widest subnet a port group may have.</summary>
    public const int MinPrefixLength = 8;

    /// <summary>/30: the narrowest subnet with two usable addresses (RFC 3021's /31 is left out).</summary>
    public const int MaxPrefixLength = 30;

    /// <summary>The subnet in CIDR notation, e.g. <c>10.20.0.0/24</c>.</summary>
    public string Subnet => $"{Network}/{PrefixLength}";

    /// <summary>The subnet's broadcast address (all host bits one), host order.</summary>
    public uint BroadcastValue => NetworkValue | ~Mask;

    /// <summary>The network address, host order.</summary>
    public uint NetworkValue => Ipv4.ToUInt32(Network);

    /// <summary>The subnet mask, host order.</summary>
    public uint Mask => uint.MaxValue << (32 - PrefixLength);

    /// <summary>Whether <paramref name="address"/> (host order) is inside the subnet.</summary>
    public bool Contains(uint address) => (address & Mask) == NetworkValue;

    /// <summary>Whether the two subnets share any address.</summary>
    public bool Overlaps(Ipv4Pool other)
    {
        uint mask = PrefixLength < other.PrefixLength ? Mask : other.Mask;
        return (NetworkValue & mask) == (other.NetworkValue & mask);
    }

    /// <summary>
    /// Whether <paramref name="address"/> (host order) may be handed out: inside a range, not excluded,
    /// not the network, broadcast or gateway address.
    /// </summary>
    public bool IsAllocatable(uint address)
    {
        if (!Contains(address) || address == NetworkValue || address == BroadcastValue
            || (Gateway is not null && address == Ipv4.ToUInt32(Gateway)))
        {
            return false;
        }

        return Ranges.Any(r => r.Contains(address)) && !Exclude.Any(r => r.Contains(address));
    }
}

/// <summary>An inclusive range of IPv4 addresses.</summary>
/// <param name="First">The first address.</param>
/// <param name="Last">The last address, not below <paramref name="First"/>; equal for one address.</param>
[GenerateSerializer, Immutable, Alias("fabric.ipv4-range")]
public sealed record Ipv4Range([property: Id(0)] IPAddress First, [property: Id(1)] IPAddress Last)
{
    /// <summary>Whether <paramref name="address"/> (host order) is inside the range.</summary>
    public bool Contains(uint address) => Ipv4.ToUInt32(First) <= address && address <= Ipv4.ToUInt32(Last);

    /// <summary><c>a.b.c.d-e.f.g.h</c>, or one address.</summary>
    public override string ToString() => First.Equals(Last) ? First.ToString() : $"{First}-{Last}";
}

/// <summary>
/// What an operator gives for a port group's IPv4 addressing, as text (<c>"ipv4"</c> in the API):
/// <c>{"subnet":"10.20.0.0/24","gateway":"10.20.0.1","ranges":["10.20.0.10-10.20.0.200"],"exclude":["10.20.0.50"]}</c>.
/// The switch refuses a bad one with <see cref="FabricValidationException"/> naming the field
/// (<c>ipv4.subnet</c>, <c>ipv4.gateway</c>, <c>ipv4.ranges</c>, <c>ipv4.exclude</c>).
/// </summary>
/// <param name="Subnet">CIDR, prefix /8../30, host bits zero; required; must not overlap another port group's subnet on the switch.</param>
/// <param name="Gateway">Optional: an address inside the subnet, not its network or broadcast address; never allocated.</param>
/// <param name="Ranges">Optional: <c>"first-last"</c> or one address, inside the subnet, not overlapping; default the whole subnet.</param>
/// <param name="Exclude">Optional: <c>"first-last"</c> or one address, inside the subnet; never allocated.</param>
/// <param name="Dhcp">Optional: serve DHCP from this pool (<see cref="Ipv4Pool.Dhcp"/>); needs a gateway (field <c>ipv4.dhcp</c>).</param>
/// <param name="DnsServers">Optional: unicast IPv4 addresses, at most 8 (field <c>ipv4.dnsServers</c>).</param>
/// <param name="LeaseTime">Optional: seconds, 60..604800 (field <c>ipv4.leaseTime</c>).</param>
[GenerateSerializer, Immutable, Alias("fabric.ipv4-pool-spec")]
public sealed record Ipv4PoolSpec(
    [property: Id(0)] string? Subnet,
    [property: Id(1)] string? Gateway = null,
    [property: Id(2)] IReadOnlyList<string>? Ranges = null,
    [property: Id(3)] IReadOnlyList<string>? Exclude = null,
    [property: Id(4)] bool? Dhcp = null,
    [property: Id(5)] IReadOnlyList<string>? DnsServers = null,
    [property: Id(6)] long? LeaseTime = null);

/// <summary>IPv4 addresses as 32-bit numbers in host order, for arithmetic on ranges.</summary>
public static class Ipv4
{
    /// <summary>The address as a number (a.b.c.d = a·2^24 + b·2^16 + c·2^8 + d).</summary>
    /// <exception cref="ArgumentException">Not an IPv4 address.</exception>
    public static uint ToUInt32(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || !address.TryWriteBytes(bytes, out _))
        {
            throw new ArgumentException($"{address} is not an IPv4 address.", nameof(address));
        }

        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    /// <summary>The address of a number.</summary>
    public static IPAddress FromUInt32(uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return new IPAddress(bytes);
    }
}
