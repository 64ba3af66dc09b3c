using Fabric.Addressing;
using Fabric.Grains;

namespace Fabric.Silo.Api;

// The request and answer shapes of the management API (README "Management API"): public, as the
// API's contract; turning them into grain records and back (RequestMapping, the From methods) is not.
// Requests carry raw JSON types (long?, string?) so that an out-of-range value reaches our
// validation and gets an error naming its field, instead of a generic binding failure.

public sealed record SwitchRequest(int? Mtu);

/// <summary>
/// <c>forwardReservedGroups</c>: IEEE 802.1Q reserved group addresses (01:80:c2:00:00:00..0f, not
/// :01) this port group forwards, e.g. <c>["01:80:c2:00:00:0e"]</c> for LLDP; default none.
/// </summary>
/// <remarks><c>ipv4</c>: the port group's IPAM pool, e.g. <c>{"subnet":"10.20.0.0/24","gateway":"10.20.0.1","ranges":["10.20.0.10-10.20.0.200"],"exclude":["10.20.0.50"]}</c>.</remarks>
public sealed record PortGroupRequest(long? Vni, VlanPolicyRequest? Vlan, SecurityPolicyRequest? Security, IReadOnlyList<string>? ForwardReservedGroups = null, Ipv4PoolRequest? Ipv4 = null, bool? Routed = null,
    string? Network = null, IReadOnlyList<PortForwardRequest>? PortForwards = null, BridgedRequest? Bridged = null);

/// <summary>A NAT port forward: <c>{"protocol":"tcp","hostPort":8080,"vmAddress":"192.168.50.10","vmPort":80}</c>.</summary>
public sealed record PortForwardRequest(string? Protocol, long? HostPort, string? VmAddress, long? VmPort);

/// <summary>A bridged port group's uplink settings: <c>{"uplinkVlan":100}</c> (optional).</summary>
public sealed record BridgedRequest(long? UplinkVlan);

/// <summary>A NAT port forward as stored.</summary>
public sealed record PortForwardView(string Protocol, int HostPort, string VmAddress, int VmPort);

/// <summary>
/// A port group's IPv4 pool: <c>subnet</c> (CIDR, required), <c>gateway</c>, <c>ranges</c> and <c>exclude</c> ("first-last" or one address);
/// <c>dhcp</c> (the agents answer DHCP from the pool), <c>dnsServers</c> and <c>leaseTime</c> (seconds) for its leases.
/// </summary>
public sealed record Ipv4PoolRequest(string? Subnet, string? Gateway, IReadOnlyList<string>? Ranges, IReadOnlyList<string>? Exclude, bool? Dhcp = null, IReadOnlyList<string>? DnsServers = null, long? LeaseTime = null);

/// <summary>A port group's IPv4 pool as stored: ranges default to the whole subnet.</summary>
public sealed record Ipv4PoolView(string Subnet, string? Gateway, IReadOnlyList<string> Ranges, IReadOnlyList<string> Exclude, bool Dhcp, IReadOnlyList<string> DnsServers, int LeaseTime)
{
    internal static Ipv4PoolView? From(Ipv4Pool? pool) => pool is null
        ? null
        : new(pool.Subnet, pool.Gateway?.ToString(), [.. pool.Ranges.Select(r => r.ToString())], [.. pool.Exclude.Select(r => r.ToString())],
            pool.Dhcp, [.. pool.Dns.Select(d => d.ToString())], pool.LeaseTime);
}

/// <summary>An address IPAM handed out: <c>address</c> with its prefix (10.20.0.7/24), the gateway, who holds it and where.</summary>
public sealed record IpAllocationView(string Address, string? Gateway, string Owner, string HostId, DateTimeOffset AllocatedAt, DateTimeOffset? ExpiresAt = null)
{
    internal static IpAllocationView From(IpAllocation a) => new($"{a.Address}/{a.PrefixLength}", a.Gateway?.ToString(), a.Owner, a.HostId, a.AllocatedAt, a.ExpiresAt);
}

/// <summary><c>mode</c> is <c>access</c> (default) or <c>trunk</c>; trunk ranges are "100-199" or "42".</summary>
public sealed record VlanPolicyRequest(string? Mode, long? AccessVlan, IReadOnlyList<string>? TrunkRanges, long? NativeVlan);

public sealed record SecurityPolicyRequest(int? MacLimit, bool? AllowForgedTransmits, bool? AllowPromiscuous);

/// <summary>Either a registered host and its port, or the address of an external VTEP.</summary>
public sealed record StaticMacRequest(string? HostId, string? Port, string? Vtep);

public sealed record SwitchView(string Name, int Mtu, long Version, IReadOnlyList<PortGroupView> PortGroups, IReadOnlyList<SwitchMemberView> Members, IReadOnlyList<HostGenerationView> Hosts, bool AppliedOnEveryHost)
{
    internal static SwitchView From(SwitchConfig config, IReadOnlyList<HostGenerationView> hosts) => new(
        config.Name,
        config.Mtu,
        config.Version,
        config.PortGroups.Select(PortGroupView.From).ToArray(),
        config.Members.Select(m => new SwitchMemberView(m.HostId, m.Uplink)).ToArray(),
        hosts,
        hosts.Where(h => h.Alive).All(h => h.AppliedGeneration >= config.Version));
}

public sealed record SwitchMemberView(string HostId, string Uplink);

/// <summary>Which configuration generation a live host has applied (OVN's nb_cfg/hv_cfg idea).</summary>
public sealed record HostGenerationView(string HostId, long AppliedGeneration, bool Alive);

public sealed record PortGroupView(string Name, uint Vni, VlanPolicyView Vlan, SecurityPolicyView Security, IReadOnlyList<string> ForwardReservedGroups, Ipv4PoolView? Ipv4 = null, bool Routed = false,
    string Network = "overlay", IReadOnlyList<PortForwardView>? PortForwards = null, BridgedRequest? Bridged = null)
{
    internal static PortGroupView From(PortGroup group) => new(
        group.Name,
        group.Vni.Value,
        new VlanPolicyView(
            group.Vlan.Mode == VlanMode.Trunk ? "trunk" : "access",
            group.Vlan.AccessVlan?.Value,
            group.Vlan.TrunkRanges.Select(r => r.First == r.Last ? $"{r.First.Value}" : $"{r.First.Value}-{r.Last.Value}").ToArray(),
            group.Vlan.NativeVlan?.Value),
        new SecurityPolicyView(group.Security.MacLimit, group.Security.AllowForgedTransmits, group.Security.AllowPromiscuous),
        [.. Enumerable.Range(0, 16).Where(bit => (group.ReservedGroupForwardMask & (1 << bit)) != 0).Select(bit => new MacAddress(0x0180_C200_0000UL | (uint)bit).ToString())],
        Ipv4PoolView.From(group.Ipv4),
        group.Routed,
        NetworkModes.Name(group.Network),
        [.. group.Forwards.Select(f => new PortForwardView(f.Protocol, f.HostPort, f.VmAddress.ToString(), f.VmPort))],
        group.Network == NetworkMode.Bridged ? new BridgedRequest(group.UplinkVlan?.Value) : null);
}

public sealed record VlanPolicyView(string Mode, ushort? AccessVlan, IReadOnlyList<string> TrunkRanges, ushort? NativeVlan);

public sealed record SecurityPolicyView(int MacLimit, bool AllowForgedTransmits, bool AllowPromiscuous);

public sealed record SegmentView(uint Vni, string? Switch, string? PortGroup, Guid Epoch, long Version, IReadOnlyList<FloodListEntryView> FloodList);

public sealed record FloodListEntryView(string HostId, string Vtep);

public sealed record MacTableView(uint Vni, Guid Epoch, long Version, IReadOnlyList<MacEntryView> Entries, IReadOnlyList<IpBindingView> IpBindings)
{
    internal static MacTableView From(MacTableSnapshot snapshot) => new(
        snapshot.Vni.Value,
        snapshot.Epoch,
        snapshot.Version,
        snapshot.Entries.OrderBy(e => e.Mac).Select(MacEntryView.From).ToArray(),
        snapshot.IpBindings.OrderBy(b => b.Ip.ToString(), StringComparer.Ordinal).Select(b => new IpBindingView(b.Ip.ToString(), b.Mac.ToString(), b.Sequence, b.Duplicate)).ToArray());
}

public sealed record MacEntryView(string Mac, string HostId, string Vtep, string Port, long Sequence, DateTimeOffset LearnedAt, bool Static, bool Frozen)
{
    internal static MacEntryView From(MacEntry e) => new(e.Mac.ToString(), e.HostId, e.Vtep.ToString(), e.Port, e.Sequence, e.LearnedAt, e.Static, e.Frozen);
}

/// <summary>An IPv4 binding: its MAC, mobility sequence, and whether it is flagged duplicate (no longer proxied).</summary>
public sealed record IpBindingView(string Ip, string Mac, long Sequence, bool Duplicate);

/// <summary>A registered host (<c>GET /api/hosts</c>); <c>managementUrl</c> is its agent's management endpoint, null when it serves none.</summary>
public sealed record HostView(string Id, string Vtep, string AgentVersion, string Switch, IReadOnlyList<HostPortView> Ports, DateTimeOffset LastHeartbeat, bool Alive, long AppliedGeneration, string? ManagementUrl)
{
    internal static HostView From(HostInfo h) => new(h.Id, h.Vtep.ToString(), h.AgentVersion, h.Switch, h.Ports.Select(p => new HostPortView(p.Name, p.PortGroup)).ToArray(), h.LastHeartbeat, h.Alive, h.AppliedGeneration, h.ManagementUrl);
}

public sealed record HostPortView(string Name, string PortGroup);

/// <summary>An operator's attach request for a host's interface (<c>PUT /api/hosts/{id}/ports/{interface}</c>).</summary>
public sealed record PortAttachRequest(string? PortGroup, string? Mac, IReadOnlyList<string>? Ipv4);

/// <summary>
/// A host's ports: what its agent registered (configured and attached at run time) and the
/// operator's requests with what the agent made of them: <c>attached</c>, <c>failed</c> (with the
/// agent's reason) or <c>pending</c> (the agent has not reported on this version yet).
/// </summary>
public sealed record HostPortsView(string HostId, IReadOnlyList<HostPortView> Registered, long RequestsVersion, IReadOnlyList<RequestedPortView> Requested)
{
    internal static HostPortsView From(string id, HostInfo? host, PortRequests requests) => new(
        id,
        host?.Ports.Select(p => new HostPortView(p.Name, p.PortGroup)).ToArray() ?? [],
        requests.Version,
        requests.Requests.Select(r =>
        {
            var status = requests.ReportedVersion == requests.Version ? requests.Statuses.FirstOrDefault(s => s.Interface == r.Interface) : null;
            return new RequestedPortView(r.Interface, r.PortGroup, r.Mac, r.Ipv4 ?? [], status is null ? "pending" : status.Error is null ? "attached" : "failed", status?.Error);
        }).ToArray());
}

public sealed record RequestedPortView(string Interface, string PortGroup, string? Mac, IReadOnlyList<string> Ipv4, string Status, string? Error);

/// <summary>Turns request bodies into grain records, naming the JSON field of any bad value.</summary>
internal static class RequestMapping
{
    public static SwitchSettings ToSettings(SwitchRequest? request)
    {
        if (request?.Mtu is not { } mtu)
        {
            throw new FabricValidationException("mtu", "mtu is required, e.g. {\"mtu\":1450}.");
        }

        return new SwitchSettings(mtu);
    }

    public static PortGroupSpec ToSpec(PortGroupRequest? request)
    {
        if (request is null)
        {
            throw new FabricValidationException("body", "A port group needs a JSON body such as {\"vni\":5001}.");
        }

        if (request.Vni is not { } vniValue)
        {
            throw new FabricValidationException("vni", "vni is required.");
        }

        if (!Vni.TryCreate(vniValue, out var vni))
        {
            throw new FabricValidationException("vni", $"vni {vniValue} is out of range; a VNI is {Vni.MinValue}..{Vni.MaxValue} (24 bits, RFC 7348).");
        }

        var ipv4 = request.Ipv4 is { } pool ? new Ipv4PoolSpec(pool.Subnet, pool.Gateway, pool.Ranges, pool.Exclude, pool.Dhcp, pool.DnsServers, pool.LeaseTime) : null;
        NetworkMode? network = request.Network is null ? null
            : NetworkModes.TryParse(request.Network, out var mode) ? mode
            : throw new FabricValidationException("network", $"network '{request.Network}' is not one of overlay, hostOnly, nat, bridged.");
        var forwards = request.PortForwards?.Select((f, i) => ToPortForward(f, i)).ToArray();
        VlanId? uplinkVlan = null;
        if (request.Bridged?.UplinkVlan is { } uplink)
        {
            if (!VlanId.TryCreate(uplink, out var id))
            {
                throw new FabricValidationException("bridged.uplinkVlan", $"bridged.uplinkVlan {uplink} is out of range 1..4094 (IEEE 802.1Q).");
            }

            uplinkVlan = id;
        }

        return new PortGroupSpec(vni, ToVlan(request.Vlan), ToSecurity(request.Security), ToReservedGroupMask(request.ForwardReservedGroups), ipv4, request.Routed,
            network, forwards, uplinkVlan);
    }

    private static PortForward ToPortForward(PortForwardRequest? request, int i)
    {
        if (request is null)
        {
            throw new FabricValidationException($"portForwards[{i}]", $"portForwards[{i}] must be an object such as {{\"protocol\":\"tcp\",\"hostPort\":8080,\"vmAddress\":\"192.168.50.10\",\"vmPort\":80}}.");
        }

        static int Port(long? value, string field) => value is >= 1 and <= 65535
            ? (int)value.Value
            : throw new FabricValidationException(field, $"{field} {value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(missing)"} is out of range 1..65535.");

        var address = ParseIpv4($"portForwards[{i}].vmAddress", request.VmAddress ?? string.Empty);
        return new PortForward(request.Protocol ?? string.Empty, Port(request.HostPort, $"portForwards[{i}].hostPort"), address, Port(request.VmPort, $"portForwards[{i}].vmPort"));
    }

    private static ushort? ToReservedGroupMask(IReadOnlyList<string>? addresses)
    {
        if (addresses is null)
        {
            return null;
        }

        ushort mask = 0;
        foreach (string text in addresses)
        {
            if (!MacAddress.TryParse(text, out var mac) || (mac.Value & ~0xFUL) != 0x0180_C200_0000UL)
            {
                throw new FabricValidationException("forwardReservedGroups", $"forwardReservedGroups entry '{text}' is not a reserved group address 01:80:c2:00:00:00..0f (IEEE 802.1Q Table 8-1).");
            }

            mask |= (ushort)(1 << (int)(mac.Value & 0xF));
        }

        return mask;
    }

    private static VlanPolicy? ToVlan(VlanPolicyRequest? request)
    {
        if (request is null)
        {
            return null;
        }

        var mode = request.Mode?.ToLowerInvariant() switch
        {
            null or "access" => VlanMode.Access,
            "trunk" => VlanMode.Trunk,
            _ => throw new FabricValidationException("vlan.mode", $"vlan.mode '{request.Mode}' is not access or trunk."),
        };

        var ranges = new List<VlanRange>();
        foreach (var text in request.TrunkRanges ?? [])
        {
            ranges.Add(ParseRange(text));
        }

        return new VlanPolicy(mode, ToVlanId("vlan.accessVlan", request.AccessVlan), ranges, ToVlanId("vlan.nativeVlan", request.NativeVlan));
    }

    private static VlanRange ParseRange(string? text)
    {
        var parts = (text ?? string.Empty).Split('-', StringSplitOptions.TrimEntries);
        if (parts.Length is 1 or 2
            && long.TryParse(parts[0], out long first)
            && long.TryParse(parts[^1], out long last))
        {
            return new VlanRange(ToVlanId("vlan.trunkRanges", first)!.Value, ToVlanId("vlan.trunkRanges", last)!.Value);
        }

        throw new FabricValidationException("vlan.trunkRanges", $"vlan.trunkRanges entry '{text}' is not a VLAN id or a range such as 100-199.");
    }

    private static VlanId? ToVlanId(string field, long? value)
    {
        if (value is not { } v)
        {
            return null;
        }

        return VlanId.TryCreate(v, out var vlan)
            ? vlan
            : throw new FabricValidationException(field, $"{field} {v} is out of range; a VLAN id is {VlanId.MinValue}..{VlanId.MaxValue} (IEEE 802.1Q).");
    }

    private static SecurityPolicy? ToSecurity(SecurityPolicyRequest? request)
    {
        if (request is null)
        {
            return null;
        }

        var defaults = SecurityPolicy.Default;
        return new SecurityPolicy(
            request.MacLimit ?? defaults.MacLimit,
            request.AllowForgedTransmits ?? defaults.AllowForgedTransmits,
            request.AllowPromiscuous ?? defaults.AllowPromiscuous);
    }

    public static Vni ParseVni(string text)
        => Vni.TryParse(text, out var vni)
            ? vni
            : throw new FabricValidationException("vni", $"'{text}' is not a VNI; a VNI is {Vni.MinValue}..{Vni.MaxValue}.");

    public static MacAddress ParseMac(string text)
        => MacAddress.TryParse(text, out var mac)
            ? mac
            : throw new FabricValidationException("mac", $"'{text}' is not a MAC address; expected six hex octets such as 02:00:00:00:00:01.");

    public static System.Net.IPAddress ParseVtep(string text)
        => System.Net.IPAddress.TryParse(text, out var address)
            && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            && !System.Net.IPAddress.IsLoopback(address) && !address.Equals(System.Net.IPAddress.Any) && !address.Equals(System.Net.IPAddress.Broadcast)
            ? address
            : throw new FabricValidationException("vtep", $"'{text}' is not a unicast IPv4 VTEP address.");

    public static System.Net.IPAddress ParseIpv4(string field, string text)
        => System.Net.IPAddress.TryParse(text, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? address
            : throw new FabricValidationException(field, $"'{text}' is not an IPv4 address.");

    public static string CheckName(string field, string name)
        => FabricNames.IsValid(name)
            ? name
            : throw new FabricValidationException(field, $"{field} '{name}' is not a valid name: 1..{FabricNames.MaxLength} characters of letters, digits, '.', '_' or '-'.");
}
