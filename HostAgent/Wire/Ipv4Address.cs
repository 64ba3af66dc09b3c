using System.Buffers.Binary;
using System.Net;

namespace Fabric.HostAgent.Wire;

/// <summary>
/// The hot path carries IPv4 addresses as a <see cref="uint"/> in host order (192.168.0.1 is
/// 0xC0A80001). These conversions to and from <see cref="IPAddress"/> allocate and belong off it:
/// configuration, logging, tests.
/// </summary>
internal static class Ipv4Address
{
    public static uint FromIPAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"'{address}' is not an IPv4 address.", nameof(address));
        }

        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    public static uint Parse(string text) => FromIPAddress(IPAddress.Parse(text));

    public static IPAddress ToIPAddress(uint address)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, address);
        return new IPAddress(bytes);
    }

    public static string Format(uint address) => ToIPAddress(address).ToString();
}
