using System.Text.Json.Nodes;

namespace Fabric.Cni;

/// <summary>
/// The plugin's network config (stdin; CNI spec 1.1.0 "Network configuration"):
/// <c>{"cniVersion": "1.1.0", "name": "...", "type": "fabric", "portGroup": "web"}</c>, optional
/// <c>"mac"</c> (the container interface's MAC for every container of the network; better per
/// container through the <c>mac</c> capability), <c>"dns"</c> (copied into ADD's result), <c>"agentSocket"</c> (default
/// <see cref="DefaultAgentSocket"/>), and what the runtime adds: <c>runtimeConfig</c> (capabilities
/// <c>mac</c> and <c>ips</c>), <c>prevResult</c> (CHECK), <c>cni.dev/valid-attachments</c> (GC).
/// </summary>
internal sealed class NetworkConfig
{
    /// <summary>Where the agent's local port API listens on a host set up by the systemd unit.</summary>
    public const string DefaultAgentSocket = "/run/fabric-agent/agent.sock";

    /// <summary>The spec versions this plugin speaks; it answers in the config's.</summary>
    public static readonly string[] SupportedVersions = ["0.4.0", "1.0.0", "1.1.0"];

    public required string CniVersion { get; init; }

    public required string Name { get; init; }

    public required string PortGroup { get; init; }

    public required string AgentSocket { get; init; }

    /// <summary>The MAC asked for: the runtime's (capability <c>mac</c>), then CNI_ARGS' <c>MAC</c>, then the config's; null for one derived from the attachment.</summary>
    public string? Mac { get; init; }

    /// <summary>An IPv4 address asked for (capability <c>ips</c>, or CNI_ARGS' <c>IP</c>), without prefix; null for any.</summary>
    public string? RequestedIp { get; init; }

    public JsonObject? PrevResult { get; init; }

    /// <summary>GC: the attachments to keep, as <c>containerId/ifName</c>.</summary>
    public IReadOnlyList<string>? ValidAttachments { get; init; }

    public JsonObject Raw { get; init; } = [];

    /// <summary>True for 1.0.0 and later (results without per-IP "version").</summary>
    public bool IsV1 => CniVersion != "0.4.0";

    /// <summary>Whether the config's version has GC and STATUS (1.1.0).</summary>
    public bool HasGcAndStatus => CniVersion == "1.1.0";

    /// <summary>The cniVersion of a config that could not be parsed further, for the error's own cniVersion.</summary>
    public static string VersionOf(JsonObject? raw)
        => raw?["cniVersion"] is JsonValue v && v.TryGetValue(out string? s) && SupportedVersions.Contains(s) ? s : "1.1.0";

    /// <summary>Parses stdin for a command; CNI_ARGS (<c>K=V;...</c>) may carry IP and MAC.</summary>
    /// <exception cref="CniError">6 not JSON; 1 an unsupported cniVersion; 7 a missing or bad field; 2 an unsupported one.</exception>
    public static NetworkConfig Parse(string stdin, string? cniArgs)
    {
        JsonObject raw;
        try
        {
            raw = JsonNode.Parse(stdin) as JsonObject ?? throw new CniError(CniError.DecodingFailure, "the network config on stdin is not a JSON object");
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new CniError(CniError.DecodingFailure, "the network config on stdin is not JSON", ex.Message);
        }

        string version = Text(raw, "cniVersion") ?? throw new CniError(CniError.InvalidConfig, "cniVersion is required");
        if (!SupportedVersions.Contains(version))
        {
            throw new CniError(CniError.IncompatibleVersion, $"cniVersion {version} is not supported", $"supported: {string.Join(", ", SupportedVersions)}");
        }

        string name = Text(raw, "name") ?? throw new CniError(CniError.InvalidConfig, "name is required");
        string portGroup = Text(raw, "portGroup") ?? throw new CniError(CniError.InvalidConfig, "portGroup is required: the port group of the agent's switch the containers join");
        if (raw["ipam"] is JsonObject { Count: > 0 })
        {
            throw new CniError(CniError.UnsupportedField, "ipam is not supported: addresses come from the port group's IPv4 pool (the fabric's IPAM)");
        }

        var args = ParseArgs(cniArgs);
        var runtime = raw["runtimeConfig"] as JsonObject;
        string? mac = Text(runtime, "mac") ?? args.GetValueOrDefault("MAC") ?? Text(raw, "mac");
        if (mac is not null && !IsUnicastMac(mac))
        {
            throw new CniError(CniError.InvalidConfig, $"mac '{mac}' is not a unicast MAC address (xx:xx:xx:xx:xx:xx, IEEE 802 I/G bit clear, not zero)");
        }
        string? ip = runtime?["ips"] is JsonArray { Count: > 0 } ips ? ips[0]?.GetValue<string>() : args.GetValueOrDefault("IP");
        if (ip is not null && ip.Contains('/'))
        {
            ip = ip[..ip.IndexOf('/')];
        }

        if (ip is not null && !(System.Net.IPAddress.TryParse(ip, out var parsed) && parsed.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork))
        {
            throw new CniError(CniError.InvalidConfig, $"the requested address '{ip}' is not an IPv4 address");
        }

        List<string>? valid = null;
        if (raw["cni.dev/valid-attachments"] is JsonArray attachments)
        {
            valid = [.. attachments.OfType<JsonObject>().Select(a => $"{Text(a, "containerID")}/{Text(a, "ifname")}")];
        }

        return new NetworkConfig
        {
            CniVersion = version,
            Name = name,
            PortGroup = portGroup,
            AgentSocket = Text(raw, "agentSocket") ?? DefaultAgentSocket,
            Mac = mac,
            RequestedIp = ip,
            PrevResult = raw["prevResult"] as JsonObject,
            ValidAttachments = valid,
            Raw = raw,
        };
    }

    /// <summary>Six hex octets separated by ':' or '-', multicast bit (I/G) clear, not all zero.</summary>
    private static bool IsUnicastMac(string text)
    {
        string[] parts = text.Split(':', '-');
        if (parts.Length != 6 || parts.Any(p => p.Length != 2 || !p.All(char.IsAsciiHexDigit)))
        {
            return false;
        }

        byte[] bytes = [.. parts.Select(p => Convert.ToByte(p, 16))];
        return (bytes[0] & 1) == 0 && bytes.Any(b => b != 0);
    }

    /// <summary>CNI_ARGS, <c>K1=V1;K2=V2</c> (spec: "alphanumeric key-value pairs separated by semicolons").</summary>
    private static Dictionary<string, string> ParseArgs(string? text)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string pair in (text ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = pair.IndexOf('=');
            if (eq > 0)
            {
                result[pair[..eq]] = pair[(eq + 1)..];
            }
        }

        return result;
    }

    private static string? Text(JsonObject? o, string name)
        => o?[name] is JsonValue v && v.TryGetValue(out string? s) && s.Length > 0 ? s : null;
}
