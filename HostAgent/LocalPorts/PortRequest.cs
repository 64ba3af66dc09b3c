using System.Net;
using System.Net.Sockets;
using Fabric.Addressing;
using Fabric.Grains;

namespace Fabric.HostAgent.LocalPorts;

/// <summary>
/// A request of the local port API refused, with the HTTP status it answers (400 a bad field, 404 an
/// unknown interface or port group, 409 a conflict with what is attached, 503 no free slot or the
/// ports file cannot be written) and the JSON path of the field at fault, when one is.
/// </summary>
internal sealed class PortApiException(int status, string? field, string message) : Exception(message)
{
    /// <summary>The HTTP status code.</summary>
    public int Status { get; } = status;

    /// <summary>The field at fault (<c>interface</c>, <c>mac</c>, <c>ipv4[1]</c>), or null.</summary>
    public string? Field { get; } = field;
}

/// <summary>
/// What attaching a port asks for (the body of <c>POST /v1/ports</c> on the agent's socket).
/// </summary>
/// <param name="Interface">The interface on this host: 1..15 characters of <c>[A-Za-z0-9._-]</c> (Linux IFNAMSIZ − 1; the fabric's names allow no others).</param>
/// <param name="PortGroup">A port group of the agent's switch (<see cref="FabricNames"/>).</param>
/// <param name="Mac">Optional: the workload's MAC, unicast (IEEE 802 I/G bit clear) and not zero. With forged transmits rejected, only frames from it are forwarded.</param>
/// <param name="Ipv4">Optional: the workload's IPv4 addresses (unicast), published as bindings of <paramref name="Mac"/> (needs it) for ARP suppression.</param>
/// <param name="Owner">Optional: who attaches it, up to 256 printable characters (the CNI plugin sends <c>{containerId}/{ifName}</c>).</param>
/// <param name="Vlan">Optional: the port's own VLAN policy, overriding its port group's (<see cref="Configuration.PortVlanOptions"/>).</param>
internal sealed record PortRequest(string Interface, string PortGroup, string? Mac = null, IReadOnlyList<string>? Ipv4 = null, string? Owner = null, Configuration.PortVlanOptions? Vlan = null)
{
    /// <summary>The first problem of a request, or null when it is valid.</summary>
    public static PortApiException? Check(string? interfaceName, string? portGroup, string? mac, IReadOnlyList<string>? ipv4, string? owner, Configuration.PortVlanOptions? vlan = null)
    {
        if (vlan is not null && !vlan.TryGetPolicy(out _, out string? vlanError))
        {
            return new PortApiException(400, vlanError!.Split(' ', 2)[0].TrimEnd(':'), vlanError);
        }

        if (interfaceName is null || interfaceName.Length is < 1 or > 15 || !FabricNames.IsValid(interfaceName))
        {
            return new PortApiException(400, "interface", $"interface '{interfaceName}' is not an interface name (1..15 characters of letters, digits, '.', '_', '-').");
        }

        if (!FabricNames.IsValid(portGroup))
        {
            return new PortApiException(400, "portGroup", $"portGroup '{portGroup}' is not a port group name (1..64 letters, digits, '.', '_', '-').");
        }

        if (mac is not null && !(MacAddress.TryParse(mac, out var parsed) && parsed.IsValidUnicast))
        {
            return new PortApiException(400, "mac", $"mac '{mac}' is not a unicast MAC address (xx:xx:xx:xx:xx:xx, not multicast, not zero).");
        }

        for (int i = 0; i < (ipv4?.Count ?? 0); i++)
        {
            if (!IPAddress.TryParse(ipv4![i], out var ip) || ip.AddressFamily != AddressFamily.InterNetwork || !Forwarding.LocalMacTable.IsBindable(Wire.Ipv4Address.FromIPAddress(ip)))
            {
                return new PortApiException(400, $"ipv4[{i}]", $"ipv4[{i}] '{ipv4[i]}' is not a unicast IPv4 address.");
            }
        }

        if (ipv4 is { Count: > 0 } && mac is null)
        {
            return new PortApiException(400, "ipv4", "ipv4 addresses need the mac they belong to.");
        }

        if (owner is not null && (owner.Length is < 1 or > 256 || owner.Any(char.IsControl)))
        {
            return new PortApiException(400, "owner", "owner must be 1..256 printable characters.");
        }

        // The gateway's MAC is the agent's (its host-only and NAT gateway ports): a workload that
        // took it would speak as the gateway (port security lets a gateway port send from its MAC).
        // Owners starting with "fabric:" are refused where callers choose them (LocalPortApi).
        if (mac is not null && MacAddress.TryParse(mac, out var asked) && asked == Grains.PortGroup.GatewayMac && owner != LocalPort.GatewayOwner)
        {
            return new PortApiException(400, "mac", $"mac {asked} is the fabric's gateway MAC; no workload may use it.");
        }

        return null;
    }

    /// <summary>The first problem of this request, or null.</summary>
    public PortApiException? Check() => Check(Interface, PortGroup, Mac, Ipv4, Owner, Vlan);
}
