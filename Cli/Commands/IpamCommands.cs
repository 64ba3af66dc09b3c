using System.CommandLine;
using System.Text.Json.Nodes;
using Fabric.Cli.Api;
using Fabric.Cli.Output;

namespace Fabric.Cli.Commands;

/// <summary><c>fabricctl ipam ls|rm</c>: what port groups' IPv4 pools handed out (<c>.../portgroups/{pg}/allocations</c>).</summary>
internal static class IpamCommands
{
    public static Command Build(FabricCli cli)
    {
        var command = new Command("ipam", "IPv4 allocations of the port groups' pools (CNI, runtime ports, DHCP leases)");

        var lsGroup = new Argument<string?>("PORTGROUP") { Description = "Only this port group (default: every port group with a pool)", Arity = ArgumentArity.ZeroOrOne };
        lsGroup.CompletionSources.Add(cli.Completions.PortGroups);
        var lsSwitch = Common.SwitchOption(cli, "Only this switch (default: every switch)");
        var ls = new Command("ls", "List IPv4 allocations in address order") { lsGroup, lsSwitch };
        command.Add(cli.Runs(ls, async run =>
        {
            string? only = run.Get(lsGroup);
            var switches = await PortGroupCommands.SwitchesAsync(run, run.Get(lsSwitch));
            var rows = new List<(string Switch, string Group, string Body)>();
            foreach (var (sw, _) in switches)
            {
                foreach (var group in (sw.PortGroups ?? []).Where(g => only is null ? g.Ipv4 is not null : g.Name == only))
                {
                    var answer = await run.Api.GetAsync($"api/switches/{FabricClient.Segment(sw.Name)}/portgroups/{FabricClient.Segment(group.Name)}/allocations", run.Cancellation);
                    rows.Add((sw.Name, group.Name, answer.Body));
                }
            }

            if (only is not null && rows.Count == 0)
            {
                throw new FabricApiException(404, "Unknown port group", $"no switch has port group '{only}'.", null, [], "");
            }

            if (run.Json)
            {
                var all = new JsonArray();
                foreach (var (sw, group, body) in rows)
                {
                    foreach (var allocation in JsonNode.Parse(body)?.AsArray() ?? [])
                    {
                        var copy = new JsonObject { ["switch"] = sw, ["portGroup"] = group };
                        foreach (var (key, value) in allocation!.AsObject())
                        {
                            copy[key] = value?.DeepClone();
                        }

                        all.Add((JsonNode)copy);
                    }
                }

                JsonOutput.Write(run.Console, all);
                return FabricCli.Success;
            }

            var table = Tables.Create("SWITCH", "PORT GROUP", "ADDRESS", "GATEWAY", "OWNER", "HOST", "AGE", "EXPIRES");
            foreach (var (sw, group, body) in rows)
            {
                foreach (var allocation in new ApiAnswer(System.Net.HttpStatusCode.OK, body).As(CliJson.Default.IpAllocationViewArray))
                {
                    table.Row(sw, group, allocation.Address, allocation.Gateway, allocation.Owner, allocation.HostId, Tables.Age(allocation.AllocatedAt, run.Now),
                        allocation.ExpiresAt is { } expires ? Tables.Until(expires, run.Now) : "never");
                }
            }

            run.Out.Write(table);
            return FabricCli.Success;
        }));

        var rmGroup = new Argument<string>("PORTGROUP") { Description = "The port group whose pool holds the address" };
        rmGroup.CompletionSources.Add(cli.Completions.PortGroups);
        var rmAddress = new Argument<string>("IP") { Description = "The address to free, e.g. 10.20.0.7" };
        var rmSwitch = Common.SwitchOption(cli);
        var rm = new Command("rm", "Free an allocated address (a leaked one, or end a DHCP lease now)") { rmGroup, rmAddress, rmSwitch };
        command.Add(cli.Runs(rm, async run =>
        {
            string switchName = await Common.SwitchAsync(run, run.Get(rmSwitch));
            string group = run.Get(rmGroup);
            // As `ipam ls` prints it (10.20.0.7/24) or bare.
            string address = run.Get(rmAddress).Split('/')[0];
            var answer = await run.Api.DeleteAsync(
                $"api/switches/{FabricClient.Segment(switchName)}/portgroups/{FabricClient.Segment(group)}/allocations/{FabricClient.Segment(address)}", null, run.Cancellation);
            run.Written(answer, $"address {address} of {switchName}/{group} freed");
            return FabricCli.Success;
        }));

        return command;
    }
}
