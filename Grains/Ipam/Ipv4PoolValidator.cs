using System.Net;
using Fabric.Grains.Validation;

namespace Fabric.Grains.Ipam;

/// <summary>Turns an <see cref="Ipv4PoolSpec"/> into a valid, normalised <see cref="Ipv4Pool"/> or throws naming the field.</summary>
internal static class Ipv4PoolValidator
{
    public static Ipv4Pool Validate(Ipv4PoolSpec spec)
    {
        var (network, prefix) = ParseSubnet(spec.Subnet);
        var pool = new Ipv4Pool(network, prefix, null, [], []);
        uint first = pool.NetworkValue, broadcast = pool.BroadcastValue;

        IPAddress? gateway = null;
        if (spec.Gateway is { } gatewayText)
        {
            gateway = ParseAddress("ipv4.gateway", gatewayText);
            uint value = Ipv4.ToUInt32(gateway);
            if (!pool.Contains(value) || value == first || value == broadcast)
            {
                Guard.Throw("ipv4.gateway", $"ipv4.gateway {gateway} is not a host address of {pool.Subnet}.");
            }
        }

        var ranges = ParseRanges("ipv4.ranges", spec.Ranges, pool);
        if (ranges.Count == 0)
        {
            ranges = [new Ipv4Range(Ipv4.FromUInt32(first + 1), Ipv4.FromUInt32(broadcast - 1))];
        }

        for (int i = 1; i < ranges.Count; i++)
        {
            if (Ipv4.ToUInt32(ranges[i].First) <= Ipv4.ToUInt32(ranges[i - 1].Last))
            {
                Guard.Throw("ipv4.ranges", $"ipv4.ranges {ranges[i - 1]} and {ranges[i]} overlap.");
            }
        }

        var exclude = ParseRanges("ipv4.exclude", spec.Exclude, pool);
        bool dhcp = spec.Dhcp ?? false;
        if (dhcp && gateway is null)
        {
            Guard.Throw("ipv4.dhcp", "ipv4.dhcp needs ipv4.gateway: it is the leases' router and the DHCP server's identifier (RFC 2132 §3.5, §9.7).");
        }

        var dns = new List<IPAddress>();
        var dnsTexts = spec.DnsServers ?? [];
        if (dnsTexts.Count > Ipv4Pool.MaxDnsServers)
        {
            Guard.Throw("ipv4.dnsServers", $"ipv4.dnsServers lists {dnsTexts.Count} servers; at most {Ipv4Pool.MaxDnsServers}.");
        }

        for (int i = 0; i < dnsTexts.Count; i++)
        {
            var server = ParseAddress($"ipv4.dnsServers[{i}]", dnsTexts[i] ?? string.Empty);
            uint value = Ipv4.ToUInt32(server);
            if (value == 0 || value == uint.MaxValue || (value >> 28) == 0xE)
            {
                Guard.Throw($"ipv4.dnsServers[{i}]", $"ipv4.dnsServers[{i}] {server} is not a unicast address.");
            }

            dns.Add(server);
        }

        long lease = spec.LeaseTime ?? Ipv4Pool.DefaultLeaseTime;
        if (lease is < Ipv4Pool.MinLeaseTime or > Ipv4Pool.MaxLeaseTime)
        {
            Guard.Throw("ipv4.leaseTime", $"ipv4.leaseTime {lease} is out of range {Ipv4Pool.MinLeaseTime}..{Ipv4Pool.MaxLeaseTime} seconds.");
        }

        var result = pool with { Gateway = gateway, Ranges = ranges, Exclude = exclude, Dhcp = dhcp, DnsServers = dns.Count == 0 ? [] : [.. dns], LeaseTime = (int)lease };
        if (!HasAllocatable(result))
        {
            Guard.Throw("ipv4.ranges", $"ipv4.ranges leave no address to allocate in {pool.Subnet} once the network, broadcast, gateway and excluded addresses are taken out.");
        }

        return result;
    }

    /// <summary>Value equality (the records' lists compare by reference).</summary>
    public static bool Same(Ipv4Pool? a, Ipv4Pool? b)
        => a is null || b is null
            ? a is null && b is null
            : a.Network.Equals(b.Network) && a.PrefixLength == b.PrefixLength && Equals(a.Gateway, b.Gateway)
                && a.Ranges.SequenceEqual(b.Ranges) && a.Exclude.SequenceEqual(b.Exclude)
                && a.Dhcp == b.Dhcp && a.Dns.SequenceEqual(b.Dns) && a.LeaseTime == b.LeaseTime;

    private static bool HasAllocatable(Ipv4Pool pool)
    {
        // At most a /8 (16M addresses); stop at the first allocatable one, checking a bounded number.
        int checkedCount = 0;
        foreach (var range in pool.Ranges)
        {
            for (ulong a = Ipv4.ToUInt32(range.First); a <= Ipv4.ToUInt32(range.Last) && checkedCount < 1_000_000; a++, checkedCount++)
            {
                if (pool.IsAllocatable((uint)a))
                {
                    return true;
                }
            }
        }

        return checkedCount >= 1_000_000;
    }

    private static (IPAddress Network, int Prefix) ParseSubnet(string? text)
    {
        string[] parts = (text ?? string.Empty).Split('/');
        if (parts.Length != 2 || !IPAddress.TryParse(parts[0], out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || !int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int prefix))
        {
            Guard.Throw("ipv4.subnet", $"ipv4.subnet '{text}' is not an IPv4 subnet in CIDR notation such as 10.20.0.0/24.");
            return default;
        }

        if (prefix is < Ipv4Pool.MinPrefixLength or > Ipv4Pool.MaxPrefixLength)
        {
            Guard.Throw("ipv4.subnet", $"ipv4.subnet {text}: the prefix length must be /{Ipv4Pool.MinPrefixLength}../{Ipv4Pool.MaxPrefixLength}.");
        }

        uint mask = uint.MaxValue << (32 - prefix);
        uint value = Ipv4.ToUInt32(address);
        if ((value & ~mask) != 0)
        {
            Guard.Throw("ipv4.subnet", $"ipv4.subnet {text} has host bits set; the subnet is {Ipv4.FromUInt32(value & mask)}/{prefix}.");
        }

        return (address, prefix);
    }

    private static IPAddress ParseAddress(string field, string text)
        => IPAddress.TryParse(text, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && text.Count(c => c == '.') == 3
            ? address
            : throw new FabricValidationException(field, $"{field} '{text}' is not an IPv4 address.");

    private static List<Ipv4Range> ParseRanges(string field, IReadOnlyList<string>? texts, Ipv4Pool pool)
    {
        var ranges = new List<Ipv4Range>();
        foreach (string? text in texts ?? [])
        {
            string[] parts = (text ?? string.Empty).Split('-', StringSplitOptions.TrimEntries);
            if (parts.Length is not (1 or 2))
            {
                Guard.Throw(field, $"{field} entry '{text}' is not an address or a range such as 10.20.0.10-10.20.0.99.");
            }

            var first = ParseAddress(field, parts[0]);
            var last = ParseAddress(field, parts[^1]);
            uint a = Ipv4.ToUInt32(first), b = Ipv4.ToUInt32(last);
            if (a > b)
            {
                Guard.Throw(field, $"{field} entry '{text}' is inverted.");
            }

            if (!pool.Contains(a) || !pool.Contains(b))
            {
                Guard.Throw(field, $"{field} entry '{text}' is not inside {pool.Subnet}.");
            }

            ranges.Add(new Ipv4Range(first, last));
        }

        ranges.Sort(static (x, y) => Ipv4.ToUInt32(x.First).CompareTo(Ipv4.ToUInt32(y.First)));
        return ranges;
    }
}
