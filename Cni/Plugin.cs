using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Fabric.Cni;

/// <summary>
/// The CNI commands (CNI spec 1.1.0, "Execution protocol"), each given the parsed config and the
/// CNI_* environment; ADD and CHECK return a result, the others nothing. An attachment (container
/// id + interface name) has a host-side veth named from both (<see cref="HostInterface"/>), so DEL,
/// CHECK and GC find it again without state of their own; the agent keeps the port, the fabric's
/// IPAM the address, both under the owner <c>{containerId}/{ifName}</c>.
/// </summary>
internal static class Plugin
{
    /// <summary>ADD: veth into the container's namespace (MTU = the switch's), an address from the port group's pool, the port attached through the agent.</summary>
    public static async Task<JsonObject> AddAsync(NetworkConfig config, CniEnvironment env)
    {
        string netns = env.RequireNetns();
        string owner = env.Owner;
        string host = HostInterface(owner);
        string mac = config.Mac ?? DefaultMac(owner);
        using var agent = new AgentClient(config.AgentSocket);
        var group = await agent.SendAsync(HttpMethod.Get, $"v1/portgroups/{Uri.EscapeDataString(config.PortGroup)}") ?? throw new CniError(CniError.IoFailure, "fabric agent: empty answer for the port group");
        int mtu = group["mtu"]!.GetValue<int>();
        JsonNode? address = null;
        try
        {
            if (group["ipv4"] is JsonObject)
            {
                address = await agent.SendAsync(HttpMethod.Post, $"v1/portgroups/{Uri.EscapeDataString(config.PortGroup)}/addresses", new JsonObject { ["owner"] = owner, ["requested"] = config.RequestedIp });
            }

            // A repeated ADD of the same attachment finds its veth and makes it right again.
            if (IpRoute.Host("link", "show", "dev", host).ExitCode != 0)
            {
                IpRoute.HostChecked("link", "add", host, "mtu", $"{mtu}", "type", "veth", "peer", "name", env.IfName, "mtu", $"{mtu}", "netns", netns);
            }

            var batch = new StringBuilder();
            batch.AppendLine($"link set dev {env.IfName} address {mac}");
            batch.AppendLine("link set dev lo up");
            if (address is not null)
            {
                batch.AppendLine($"addr replace {address["address"]}/{address["prefixLength"]} dev {env.IfName}");
            }

            batch.AppendLine($"link set dev {env.IfName} up");
            if (address?["gateway"]?.GetValue<string>() is { } gateway)
            {
                batch.AppendLine($"route replace default via {gateway} dev {env.IfName}");
            }

            IpRoute.Checked(IpRoute.InNamespace(netns, batch.ToString()), $"configuring {env.IfName} in {netns}");
            IpRoute.HostChecked("link", "set", "dev", host, "up");
            var ips = address is null ? new JsonArray() : new JsonArray((JsonNode)address["address"]!.GetValue<string>());
            await agent.SendAsync(HttpMethod.Post, "v1/ports", new JsonObject { ["interface"] = host, ["portGroup"] = config.PortGroup, ["mac"] = mac, ["ipv4"] = ips, ["owner"] = owner });
            string hostMac = LinkMac(IpRoute.Host("-o", "link", "show", "dev", host).Output);
            return Results.Add(config, host, hostMac, env.IfName, mac, netns, mtu, address);
        }
        catch
        {
            // Leave nothing half made: the runtime will not DEL an ADD that failed.
            await Undo(agent, config, owner, host, address is not null);
            throw;
        }
    }

    /// <summary>DEL: detach, release the address, delete the veth; what is already gone is fine (idempotent).</summary>
    public static async Task DeleteAsync(NetworkConfig config, CniEnvironment env)
    {
        string owner = env.Owner;
        using var agent = new AgentClient(config.AgentSocket);
        string host = HostInterface(owner);
        await agent.SendAsync(HttpMethod.Delete, $"v1/ports/{host}", notFoundIsNull: true);
        await agent.SendAsync(HttpMethod.Delete, $"v1/portgroups/{Uri.EscapeDataString(config.PortGroup)}/addresses/{owner}", notFoundIsNull: true);
        if (IpRoute.Host("link", "show", "dev", host).ExitCode == 0)
        {
            IpRoute.HostChecked("link", "del", "dev", host);
        }
    }

    /// <summary>CHECK: the container interface has the MAC and addresses of prevResult, the host veth exists and the agent holds the port for this attachment.</summary>
    public static async Task CheckAsync(NetworkConfig config, CniEnvironment env)
    {
        string netns = env.RequireNetns();
        var previous = config.PrevResult ?? throw new CniError(CniError.InvalidConfig, "CHECK needs prevResult");
        string owner = env.Owner;
        string host = HostInterface(owner);
        if (IpRoute.Host("link", "show", "dev", host).ExitCode != 0)
        {
            throw new CniError(CniError.CheckFailed, $"host interface {host} does not exist");
        }

        var inside = IpRoute.InNamespace(netns, "-o", "addr", "show", "dev", env.IfName);
        if (inside.ExitCode != 0)
        {
            throw new CniError(CniError.CheckFailed, $"interface {env.IfName} does not exist in {netns}", inside.Output.Trim());
        }

        var sandbox = previous["interfaces"]?.AsArray().OfType<JsonObject>().FirstOrDefault(i => i["sandbox"] is not null && i["name"]?.GetValue<string>() == env.IfName);
        string? mac = sandbox?["mac"]?.GetValue<string>();
        string link = IpRoute.InNamespace(netns, "-o", "link", "show", "dev", env.IfName).Output;
        if (mac is not null && !string.Equals(LinkMac(link), mac, StringComparison.OrdinalIgnoreCase))
        {
            throw new CniError(CniError.CheckFailed, $"{env.IfName} has MAC {LinkMac(link)}, not {mac}");
        }

        foreach (var ip in previous["ips"]?.AsArray().OfType<JsonObject>() ?? [])
        {
            string address = ip["address"]!.GetValue<string>();
            if (!inside.Output.Contains($" {address} ", StringComparison.Ordinal))
            {
                throw new CniError(CniError.CheckFailed, $"{env.IfName} does not have {address}", inside.Output.Trim());
            }
        }

        using var agent = new AgentClient(config.AgentSocket);
        var port = await agent.SendAsync(HttpMethod.Get, $"v1/ports/{host}", notFoundIsNull: true)
            ?? throw new CniError(CniError.CheckFailed, $"the fabric agent has no port {host}");
        if (port["owner"]?.GetValue<string>() != owner || port["portGroup"]?.GetValue<string>() != config.PortGroup)
        {
            throw new CniError(CniError.CheckFailed, $"port {host} is attached to '{port["portGroup"]}' for {port["owner"]}, not to '{config.PortGroup}' for {owner}");
        }
    }

    /// <summary>GC (1.1.0): release what this host holds in the port group for attachments not in <c>cni.dev/valid-attachments</c>; delete their veths.</summary>
    public static async Task GarbageCollectAsync(NetworkConfig config)
    {
        var valid = config.ValidAttachments ?? throw new CniError(CniError.InvalidConfig, "GC needs cni.dev/valid-attachments");
        using var agent = new AgentClient(config.AgentSocket);
        var answer = await agent.SendAsync(HttpMethod.Post, $"v1/portgroups/{Uri.EscapeDataString(config.PortGroup)}/gc", new JsonObject { ["validOwners"] = new JsonArray([.. valid.Select(v => (JsonNode)v)]) });
        foreach (var port in answer?["detachedPorts"]?.AsArray() ?? [])
        {
            string name = port!.GetValue<string>();
            if (IpRoute.Host("link", "show", "dev", name).ExitCode == 0)
            {
                IpRoute.Host("link", "del", "dev", name);
            }
        }
    }

    /// <summary>STATUS (1.1.0): fine when the agent is synchronized with the cluster and its port group exists; error 50 otherwise.</summary>
    public static async Task StatusAsync(NetworkConfig config)
    {
        using var agent = new AgentClient(config.AgentSocket);
        JsonNode? status;
        try
        {
            status = await agent.SendAsync(HttpMethod.Get, "v1/status");
        }
        catch (CniError ex)
        {
            throw new CniError(CniError.NotAvailable, ex.Message, ex.Details);
        }

        if (status?["ready"]?.GetValue<bool>() != true)
        {
            throw new CniError(CniError.NotAvailable, "the fabric agent is not synchronized with the cluster yet", status?.ToJsonString());
        }
    }

    /// <summary>The host end of an attachment's veth: <c>fab</c> and 12 hex digits of SHA-256 over the owner (15 characters, IFNAMSIZ − 1).</summary>
    public static string HostInterface(string owner) => "fab" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(owner)))[..12];

    /// <summary>A locally administered unicast MAC (IEEE 802 U/L bit set, I/G clear) from the owner, so a repeated ADD gives the same one.</summary>
    public static string DefaultMac(string owner)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes("mac/" + owner));
        return $"02:{hash[0]:x2}:{hash[1]:x2}:{hash[2]:x2}:{hash[3]:x2}:{hash[4]:x2}";
    }

    private static string LinkMac(string ipLinkOutput)
    {
        int at = ipLinkOutput.IndexOf("link/ether ", StringComparison.Ordinal);
        return at < 0 ? string.Empty : ipLinkOutput.Substring(at + "link/ether ".Length, 17);
    }

    private static async Task Undo(AgentClient agent, NetworkConfig config, string owner, string host, bool release)
    {
        try
        {
            await agent.SendAsync(HttpMethod.Delete, $"v1/ports/{host}", notFoundIsNull: true);
            if (release)
            {
                await agent.SendAsync(HttpMethod.Delete, $"v1/portgroups/{Uri.EscapeDataString(config.PortGroup)}/addresses/{owner}", notFoundIsNull: true);
            }
        }
        catch (CniError)
        {
            // The agent's GC (CNI GC) frees what is left.
        }

        IpRoute.Host("link", "del", "dev", host);
    }
}

/// <summary>The CNI_* environment of one call (CNI spec 1.1.0, "Parameters").</summary>
internal sealed class CniEnvironment
{
    public required string Command { get; init; }

    public string? ContainerId { get; init; }

    public string? Netns { get; init; }

    public string IfName { get; init; } = "eth0";

    public string? Args { get; init; }

    /// <summary>The attachment's identity, <c>{CNI_CONTAINERID}/{CNI_IFNAME}</c>.</summary>
    public string Owner => $"{ContainerId ?? throw new CniError(CniError.InvalidEnvironment, "CNI_CONTAINERID is required")}/{IfName}";

    public static CniEnvironment FromProcess()
    {
        string? Get(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        var env = new CniEnvironment
        {
            Command = Get("CNI_COMMAND") ?? throw new CniError(CniError.InvalidEnvironment, "CNI_COMMAND is required (ADD, DEL, CHECK, GC, STATUS or VERSION)"),
            ContainerId = Get("CNI_CONTAINERID"),
            Netns = Get("CNI_NETNS"),
            IfName = Get("CNI_IFNAME") ?? "eth0",
            Args = Get("CNI_ARGS"),
        };
        if (env.IfName.Length > 15 || env.IfName.Any(c => c is '/' or ':' or ' ' || char.IsControl(c)))
        {
            throw new CniError(CniError.InvalidEnvironment, $"CNI_IFNAME '{env.IfName}' is not an interface name");
        }

        if (env.ContainerId is { } id && (id.Length > 200 || id.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))))
        {
            throw new CniError(CniError.InvalidEnvironment, "CNI_CONTAINERID must be letters, digits, '-', '_' or '.'");
        }

        return env;
    }

    /// <summary>CNI_NETNS, which must exist.</summary>
    public string RequireNetns()
    {
        string netns = Netns ?? throw new CniError(CniError.InvalidEnvironment, "CNI_NETNS is required");
        return File.Exists(netns) ? netns : throw new CniError(CniError.UnknownContainer, $"network namespace {netns} does not exist");
    }
}
