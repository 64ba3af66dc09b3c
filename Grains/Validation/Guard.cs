using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using Fabric.Addressing;

namespace Fabric.Grains.Validation;

/// <summary>Input checks shared by the grains. Each throws <see cref="FabricValidationException"/> naming the field.</summary>
internal static class Guard
{
    public static void Name([NotNull] string? value, string field)
    {
        if (!FabricNames.IsValid(value))
        {
            Throw(field, $"{field} '{value}' is invalid: use 1..{FabricNames.MaxLength} characters of A-Z a-z 0-9 . _ -.");
        }
    }

    public static void NotNull([NotNull] object? value, string field)
    {
        if (value is null)
        {
            Throw(field, $"{field} is required.");
        }
    }

    /// <summary>A value type can arrive as default (0) over the wire, bypassing its constructor check.</summary>
    public static void Vni(Vni vni, string field = "vni")
    {
        if (!Addressing.Vni.IsValid(vni.Value))
        {
            Throw(field, $"{field} {vni.Value} is out of range: a VNI is {Addressing.Vni.MinValue}..{Addressing.Vni.MaxValue} (RFC 7348 §5).");
        }
    }

    public static void Vlan(VlanId vlan, string field)
    {
        if (!VlanId.IsValid(vlan.Value))
        {
            Throw(field, $"{field} {vlan.Value} is out of range: a VLAN id is {VlanId.MinValue}..{VlanId.MaxValue} (IEEE 802.1Q).");
        }
    }

    /// <summary>Only a unicast address that is not zero may be a learned source (IEEE 802 I/G bit).</summary>
    public static void UnicastMac(MacAddress mac, string field = "mac")
    {
        if (!mac.IsValidUnicast)
        {
            Throw(field, $"{field} {mac} is not a unicast MAC address (multicast, broadcast and zero cannot be learned).");
        }
    }

    /// <summary>A VTEP is a unicast underlay address: not unspecified, multicast or broadcast.</summary>
    public static void Vtep([NotNull] IPAddress? address, string field = "vtep")
    {
        NotNull(address, field);
        bool bad = address.AddressFamily switch
        {
            AddressFamily.InterNetwork => address.Equals(IPAddress.Any) || address.Equals(IPAddress.Broadcast) || IsIPv4Multicast(address),
            AddressFamily.InterNetworkV6 => address.Equals(IPAddress.IPv6Any) || address.IsIPv6Multicast,
            _ => true,
        };
        if (bad)
        {
            Throw(field, $"{field} {address} is not a unicast IPv4 or IPv6 address.");
        }
    }

    /// <summary>ARP suppression binds IPv4 unicast addresses (RFC 826).</summary>
    public static void UnicastIPv4([NotNull] IPAddress? address, string field = "ip")
    {
        NotNull(address, field);
        if (address.AddressFamily != AddressFamily.InterNetwork || address.Equals(IPAddress.Any) || address.Equals(IPAddress.Broadcast) || IsIPv4Multicast(address))
        {
            Throw(field, $"{field} {address} is not a unicast IPv4 address.");
        }
    }

    private static bool IsIPv4Multicast(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return bytes[0] is >= 224 and <= 239;
    }

    [DoesNotReturn]
    public static void Throw(string field, string message) => throw new FabricValidationException(field, message);

    [DoesNotReturn]
    public static void NotFound(string kind, string name) => throw new FabricNotFoundException(kind, name);
}
