using System.Text.Json.Nodes;

namespace Fabric.Cni;

/// <summary>Results and errors in the config's version (CNI spec 1.1.0 "Success", 1.0.0, and 0.4.0 with per-IP "version").</summary>
internal static class Results
{
    /// <summary>ADD's result: the host and container interfaces, the address with its gateway, the default route, and the config's DNS settings (none when it has none).</summary>
    public static JsonObject Add(NetworkConfig config, string host, string hostMac, string ifName, string mac, string netns, int mtu, JsonNode? address)
    {
        var hostInterface = new JsonObject { ["name"] = host, ["mac"] = hostMac };
        var container = new JsonObject { ["name"] = ifName, ["mac"] = mac, ["sandbox"] = netns };
        if (config.CniVersion == "1.1.0")
        {
            hostInterface["mtu"] = mtu;
            container["mtu"] = mtu;
        }

        var result = new JsonObject
        {
            ["cniVersion"] = config.CniVersion,
            ["interfaces"] = new JsonArray(hostInterface, container),
            ["ips"] = new JsonArray(),
            ["routes"] = new JsonArray(),
            // The network config's own "dns" (nameservers, domain, search, options), as the spec's
            // DNS section describes it; a port group has no DNS settings of its own.
            ["dns"] = config.Raw["dns"] is JsonObject dns ? dns.DeepClone() : new JsonObject(),
        };
        if (address is not null)
        {
            var ip = new JsonObject
            {
                ["address"] = $"{address["address"]}/{address["prefixLength"]}",
                ["interface"] = 1,
            };
            if (!config.IsV1)
            {
                ip["version"] = "4";
            }

            if (address["gateway"]?.GetValue<string>() is { } gateway)
            {
                ip["gateway"] = gateway;
                result["routes"]!.AsArray().Add((JsonNode)new JsonObject { ["dst"] = "0.0.0.0/0", ["gw"] = gateway });
            }

            result["ips"]!.AsArray().Add((JsonNode)ip);
        }

        return result;
    }

    /// <summary>VERSION's answer.</summary>
    public static JsonObject Version(string cniVersion) => new()
    {
        ["cniVersion"] = cniVersion,
        ["supportedVersions"] = new JsonArray([.. NetworkConfig.SupportedVersions.Select(v => (JsonNode)v)]),
    };

    /// <summary>An error result.</summary>
    public static JsonObject Error(string cniVersion, CniError error)
    {
        var result = new JsonObject { ["cniVersion"] = cniVersion, ["code"] = error.Code, ["msg"] = error.Message };
        if (error.Details is { Length: > 0 } details)
        {
            result["details"] = details;
        }

        return result;
    }
}
