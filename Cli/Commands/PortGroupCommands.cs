using System.CommandLine;
using System.Text.Json.Nodes;
using Fabric.Cli.Api;
using Fabric.Cli.Output;
using Spectre.Console;

namespace Fabric.Cli.Commands;

/// <summary><c>fabricctl portgroup ls|show|set|rm</c>: a switch's port groups (<c>/api/switches/{switch}/portgroups</c>).</summary>
internal static class PortGroupCommands
{
    public static Command Build(FabricCli cli)
    {
        var command = new Command("portgroup", "Port groups: VNI, VLAN policy, security, IPv4 pool, routing, network mode");

        var lsSwitch = Common.SwitchOption(cli, "Only this switch's port groups (default: every switch)");
        var ls = new Command("ls", "List port groups") { lsSwitch };
        command.Add(cli.Runs(ls, async run =>
        {
            var switches = await SwitchesAsync(run, run.Get(lsSwitch));
            if (run.Json)
            {
                // The API's port group objects, each with the switch it belongs to.
                var all = new JsonArray();
                foreach (var sw in switches)
                {
                    foreach (var group in sw.Node["portGroups"]?.AsArray() ?? [])
                    {
                        var copy = new JsonObject { ["switch"] = sw.View.Name };
                        foreach (var (key, value) in group!.AsObject())
                        {
                            copy[key] = value?.DeepClone();
                        }

                        all.Add((JsonNode)copy);
                    }
                }

                JsonOutput.Write(run.Console, all);
                return FabricCli.Success;
            }

            var table = Tables.Create("SWITCH", "NAME", "VNI", "VLAN", "NETWORK", "SUBNET", "GATEWAY", "FLAGS");
            foreach (var (sw, _) in switches)
            {
                foreach (var group in sw.PortGroups ?? [])
                {
                    table.Row(sw.Name, group.Name, Tables.N(group.Vni), Tables.Vlan(group.Vlan), group.Network ?? "overlay", group.Ipv4?.Subnet, group.Ipv4?.Gateway, Tables.Flags(group));
                }
            }

            run.Out.Write(table);
            return FabricCli.Success;
        }));

        var showName = NameArgument(cli);
        var showSwitch = Common.SwitchOption(cli);
        var show = new Command("show", "Show a port group with all its settings") { showName, showSwitch };
        command.Add(cli.Runs(show, async run =>
        {
            string switchName = await Common.SwitchAsync(run, run.Get(showSwitch));
            string name = run.Get(showName);
            var answer = await run.Api.GetAsync($"api/switches/{FabricClient.Segment(switchName)}", run.Cancellation);
            var node = JsonNode.Parse(answer.Body)?["portGroups"]?.AsArray().FirstOrDefault(g => g?["name"]?.GetValue<string>() == name)
                ?? throw new FabricApiException(404, "Unknown port group", $"switch '{switchName}' has no port group '{name}'.", null, [], "");
            if (run.Json)
            {
                JsonOutput.Write(run.Console, node);
                return FabricCli.Success;
            }

            Show(run.Out, switchName, answer.As(CliJson.Default.SwitchView).PortGroups!.First(g => g.Name == name));
            return FabricCli.Success;
        }));

        var setName = NameArgument(cli);
        var setSwitch = Common.SwitchOption(cli);
        var vni = new Option<long?>("--vni") { Description = "The segment's VXLAN network identifier, 1..16777215, unique in the fabric", HelpName = "VNI" };
        var accessVlan = new Option<long?>("--access-vlan") { Description = "Access port group: its VLAN id 1..4094 (untagged on its ports, the VLAN on trunks)", HelpName = "VLAN" };
        var trunk = new Option<string[]>("--trunk") { Description = "Trunk port group: the VLAN ranges it carries, e.g. 100-199,300", HelpName = "RANGES", AllowMultipleArgumentsPerToken = false };
        var nativeVlan = new Option<long?>("--native-vlan") { Description = "Trunk: the VLAN of untagged frames", HelpName = "VLAN" };
        var macLimit = new Option<int?>("--mac-limit") { Description = "Most MACs a port may hold (default 64)", HelpName = "N" };
        var forged = new Option<bool?>("--allow-forged-transmits") { Description = "Forward frames from any source MAC (default: only the port's own)" };
        var promiscuous = new Option<bool?>("--allow-promiscuous") { Description = "Ports get a copy of every frame of the VNI" };
        var reserved = new Option<string[]>("--forward-reserved-group") { Description = "Forward this IEEE 802.1Q reserved group address, e.g. 01:80:c2:00:00:0e (LLDP); repeatable", HelpName = "MAC" };
        var subnet = new Option<string?>("--subnet") { Description = "IPv4 pool: the subnet, e.g. 10.20.0.0/24", HelpName = "CIDR" };
        var gateway = new Option<string?>("--gateway") { Description = "IPv4 pool: the gateway address", HelpName = "IP" };
        var range = new Option<string[]>("--range") { Description = "IPv4 pool: addresses to hand out, e.g. 10.20.0.10-10.20.0.200; repeatable", HelpName = "FIRST-LAST" };
        var exclude = new Option<string[]>("--exclude") { Description = "IPv4 pool: addresses never handed out; repeatable", HelpName = "IP|FIRST-LAST" };
        var dhcp = new Option<bool?>("--dhcp") { Description = "The agents answer DHCP from the pool (needs --gateway)" };
        var dns = new Option<string[]>("--dns") { Description = "DHCP: DNS servers; repeatable", HelpName = "IP" };
        var leaseTime = new Option<long?>("--lease-time") { Description = "DHCP: lease time in seconds, 60..604800 (default 3600)", HelpName = "SECONDS" };
        var routed = new Option<bool?>("--routed") { Description = "Join the switch's routing domain (anycast gateway; needs --gateway)" };
        var network = new Option<string?>("--network") { Description = "overlay (default), hostOnly, nat or bridged", HelpName = "MODE" };
        network.CompletionSources.Add("overlay", "hostOnly", "nat", "bridged");
        var forward = new Option<string[]>("--port-forward") { Description = "NAT: PROTO:HOSTPORT:VMADDRESS:VMPORT, e.g. tcp:8080:192.168.103.10:80; repeatable", HelpName = "SPEC" };
        var uplinkVlan = new Option<long?>("--uplink-vlan") { Description = "Bridged: tag frames on the uplink with this VLAN", HelpName = "VLAN" };
        var setFile = Common.FileOption();
        var set = new Command("set", "Create or replace a port group (the whole port group: options left out take their defaults)")
        {
            setName, setSwitch, vni, accessVlan, trunk, nativeVlan, macLimit, forged, promiscuous, reserved, subnet, gateway, range, exclude, dhcp, dns, leaseTime,
            routed, network, forward, uplinkVlan, setFile,
        };
        command.Add(cli.Runs(cli.Writes(set), async run =>
        {
            var body = Common.Body(run, setFile);
            Common.Set(body, "vni", Common.Number(run.Get(vni)));
            if (run.Get(trunk) is { Length: > 0 } ranges)
            {
                Common.Set(body, "vlan.mode", "trunk");
                Common.Set(body, "vlan.trunkRanges", Common.Array(ranges));
            }
            else if (run.Get(accessVlan) is not null)
            {
                Common.Set(body, "vlan.mode", "access");
            }

            Common.Set(body, "vlan.accessVlan", Common.Number(run.Get(accessVlan)));
            Common.Set(body, "vlan.nativeVlan", Common.Number(run.Get(nativeVlan)));
            Common.Set(body, "security.macLimit", Common.Number(run.Get(macLimit)));
            Common.Set(body, "security.allowForgedTransmits", Common.Flag(run.Get(forged)));
            Common.Set(body, "security.allowPromiscuous", Common.Flag(run.Get(promiscuous)));
            Common.Set(body, "forwardReservedGroups", Common.Array(run.Get(reserved)));
            Common.Set(body, "ipv4.subnet", Common.Text(run.Get(subnet)));
            Common.Set(body, "ipv4.gateway", Common.Text(run.Get(gateway)));
            Common.Set(body, "ipv4.ranges", Common.Array(run.Get(range)));
            Common.Set(body, "ipv4.exclude", Common.Array(run.Get(exclude)));
            Common.Set(body, "ipv4.dhcp", Common.Flag(run.Get(dhcp)));
            Common.Set(body, "ipv4.dnsServers", Common.Array(run.Get(dns)));
            Common.Set(body, "ipv4.leaseTime", Common.Number(run.Get(leaseTime)));
            Common.Set(body, "routed", Common.Flag(run.Get(routed)));
            Common.Set(body, "network", Common.Text(run.Get(network)));
            if (run.Get(forward) is { Length: > 0 } forwards)
            {
                body["portForwards"] = new JsonArray([.. forwards.Select(PortForward)]);
            }

            Common.Set(body, "bridged.uplinkVlan", Common.Number(run.Get(uplinkVlan)));

            string switchName = await Common.SwitchAsync(run, run.Get(setSwitch));
            string name = run.Get(setName);
            var answer = await run.Api.PutAsync($"api/switches/{FabricClient.Segment(switchName)}/portgroups/{FabricClient.Segment(name)}", body, run.Wait, run.Cancellation);
            run.Written(answer, $"port group {switchName}/{name} set", () =>
            {
                var group = answer.As(CliJson.Default.PortGroupView);
                var table = Tables.Create("NAME", "VNI", "VLAN", "NETWORK", "SUBNET", "GATEWAY", "FLAGS");
                table.Row(group.Name, Tables.N(group.Vni), Tables.Vlan(group.Vlan), group.Network ?? "overlay", group.Ipv4?.Subnet, group.Ipv4?.Gateway, Tables.Flags(group));
                run.Out.Write(table);
            });
            return FabricCli.Success;
        }));

        var rmName = NameArgument(cli);
        var rmSwitch = Common.SwitchOption(cli);
        var rm = new Command("rm", "Remove a port group (refused while a host port uses it; ends its segment)") { rmName, rmSwitch };
        command.Add(cli.Runs(cli.Writes(rm), async run =>
        {
            string switchName = await Common.SwitchAsync(run, run.Get(rmSwitch));
            string name = run.Get(rmName);
            var answer = await run.Api.DeleteAsync($"api/switches/{FabricClient.Segment(switchName)}/portgroups/{FabricClient.Segment(name)}", run.Wait, run.Cancellation);
            run.Written(answer, $"port group {switchName}/{name} removed");
            return FabricCli.Success;
        }));

        return command;
    }

    /// <summary>One switch, or every switch, each with its view and its JSON.</summary>
    public static async Task<IReadOnlyList<(SwitchView View, JsonNode Node)>> SwitchesAsync(Invocation run, string? only)
    {
        if (only is { Length: > 0 })
        {
            var answer = await run.Api.GetAsync($"api/switches/{FabricClient.Segment(only)}", run.Cancellation);
            return [(answer.As(CliJson.Default.SwitchView), JsonNode.Parse(answer.Body)!)];
        }

        var all = await run.Api.GetAsync("api/switches", run.Cancellation);
        var views = all.As(CliJson.Default.SwitchViewArray);
        var nodes = JsonNode.Parse(all.Body)!.AsArray();
        return [.. views.Select((v, i) => (v, nodes[i]!))];
    }

    /// <summary>Prints one port group with every setting.</summary>
    public static void Show(IAnsiConsole console, string switchName, PortGroupView group)
    {
        var rows = new List<(string, string?)>
        {
            ("Switch", switchName),
            ("Name", group.Name),
            ("VNI", Tables.N(group.Vni)),
            ("VLAN", Tables.Vlan(group.Vlan)),
            ("Network", group.Network ?? "overlay"),
            ("Routed", Tables.YesNo(group.Routed)),
        };
        if (group.Security is { } security)
        {
            rows.Add(("MAC limit", Tables.N(security.MacLimit)));
            rows.Add(("Forged transmits", security.AllowForgedTransmits ? "allowed" : "rejected"));
            rows.Add(("Promiscuous", security.AllowPromiscuous ? "allowed" : "rejected"));
        }

        rows.Add(("Reserved groups forwarded", string.Join(", ", group.ForwardReservedGroups ?? [])));
        if (group.Ipv4 is { } pool)
        {
            rows.Add(("Subnet", pool.Subnet));
            rows.Add(("Gateway", pool.Gateway));
            rows.Add(("Ranges", string.Join(", ", pool.Ranges ?? [])));
            rows.Add(("Excluded", string.Join(", ", pool.Exclude ?? [])));
            rows.Add(("DHCP", pool.Dhcp ? $"yes, lease {pool.LeaseTime}s" : "no"));
            rows.Add(("DNS servers", string.Join(", ", pool.DnsServers ?? [])));
        }
        else
        {
            rows.Add(("IPv4 pool", "none"));
        }

        if (group.PortForwards is { Count: > 0 } forwards)
        {
            rows.Add(("Port forwards", string.Join(", ", forwards.Select(f => $"{f.Protocol}:{f.HostPort} -> {f.VmAddress}:{f.VmPort}"))));
        }

        if (group.Bridged is { } bridged)
        {
            rows.Add(("Uplink VLAN", bridged.UplinkVlan is { } v ? Tables.N(v) : "untagged"));
        }

        console.Write(Tables.Details([.. rows]));
    }

    /// <summary><c>tcp:8080:192.168.103.10:80</c> as the API's port forward object.</summary>
    private static JsonNode PortForward(string spec)
    {
        string[] parts = spec.Split(':');
        if (parts.Length != 4 || !long.TryParse(parts[1], out long hostPort) || !long.TryParse(parts[3], out long vmPort))
        {
            throw new CliUsageException($"--port-forward '{spec}' is not PROTO:HOSTPORT:VMADDRESS:VMPORT, e.g. tcp:8080:192.168.103.10:80.");
        }

        return new JsonObject { ["protocol"] = parts[0], ["hostPort"] = hostPort, ["vmAddress"] = parts[2], ["vmPort"] = vmPort };
    }

    private static Argument<string> NameArgument(FabricCli cli)
    {
        var argument = new Argument<string>("NAME") { Description = "The port group's name" };
        argument.CompletionSources.Add(cli.Completions.PortGroups);
        return argument;
    }
}
