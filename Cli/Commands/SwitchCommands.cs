using System.CommandLine;
using Fabric.Cli.Api;
using Fabric.Cli.Output;
using Spectre.Console;

namespace Fabric.Cli.Commands;

/// <summary><c>fabricctl switch ls|show|set|rm</c>: distributed switches (<c>/api/switches</c>).</summary>
internal static class SwitchCommands
{
    public static Command Build(FabricCli cli)
    {
        var command = new Command("switch", "Distributed switches: MTU, port groups, member hosts, applied generation");

        var ls = new Command("ls", "List the switches");
        command.Add(cli.Runs(ls, async run =>
        {
            var answer = await run.Api.GetAsync("api/switches", run.Cancellation);
            if (run.Json)
            {
                JsonOutput.Write(run.Console, answer.Body);
                return FabricCli.Success;
            }

            var table = Tables.Create("NAME", "MTU", "VERSION", "PORT GROUPS", "HOSTS", "APPLIED");
            foreach (var sw in answer.As(CliJson.Default.SwitchViewArray))
            {
                table.Row(sw.Name, Tables.N(sw.Mtu), Tables.N(sw.Version), string.Join(',', (sw.PortGroups ?? []).Select(g => g.Name)), HostsCell(sw), Tables.YesNo(sw.AppliedOnEveryHost));
            }

            run.Out.Write(table);
            return FabricCli.Success;
        }));

        var showName = NameArgument(cli);
        var show = new Command("show", "Show a switch: its port groups and which generation each host applied") { showName };
        command.Add(cli.Runs(show, async run =>
        {
            var answer = await run.Api.GetAsync($"api/switches/{FabricClient.Segment(run.Get(showName))}", run.Cancellation);
            if (run.Json)
            {
                JsonOutput.Write(run.Console, answer.Body);
                return FabricCli.Success;
            }

            Show(run.Out, answer.As(CliJson.Default.SwitchView));
            return FabricCli.Success;
        }));

        var setName = NameArgument(cli);
        var mtu = new Option<int?>("--mtu") { Description = "The switch's MTU in bytes, 576..9216 (the VMs' MTU; the underlay needs 50 more for VXLAN)", HelpName = "BYTES" };
        var setFile = Common.FileOption();
        var set = new Command("set", "Create or change a switch") { setName, mtu, setFile };
        command.Add(cli.Runs(cli.Writes(set), async run =>
        {
            var body = Common.Body(run, setFile);
            Common.Set(body, "mtu", Common.Number(run.Get(mtu)));
            string name = run.Get(setName);
            var answer = await run.Api.PutAsync($"api/switches/{FabricClient.Segment(name)}", body, run.Wait, run.Cancellation);
            run.Written(answer, $"switch {name} set", () =>
            {
                var sw = answer.As(CliJson.Default.SwitchView);
                Tables.Line(run.Out, $"mtu {sw.Mtu}, version {sw.Version}, applied on every host: {Tables.YesNo(sw.AppliedOnEveryHost)}");
            });
            return FabricCli.Success;
        }));

        var rmName = NameArgument(cli);
        var rm = new Command("rm", "Remove a switch (refused while it has port groups)") { rmName };
        command.Add(cli.Runs(cli.Writes(rm), async run =>
        {
            string name = run.Get(rmName);
            var answer = await run.Api.DeleteAsync($"api/switches/{FabricClient.Segment(name)}", run.Wait, run.Cancellation);
            run.Written(answer, $"switch {name} removed");
            return FabricCli.Success;
        }));

        return command;
    }

    /// <summary>Prints one switch: details, port groups, hosts.</summary>
    public static void Show(IAnsiConsole console, SwitchView sw)
    {
        console.Write(Tables.Details(
            ("Name", sw.Name),
            ("MTU", Tables.N(sw.Mtu)),
            ("Version", Tables.N(sw.Version)),
            ("Applied on every host", Tables.YesNo(sw.AppliedOnEveryHost))));

        Tables.Section(console, "Port groups");
        var groups = Tables.Create("NAME", "VNI", "VLAN", "NETWORK", "SUBNET", "GATEWAY", "FLAGS");
        foreach (var group in sw.PortGroups ?? [])
        {
            groups.Row(group.Name, Tables.N(group.Vni), Tables.Vlan(group.Vlan), group.Network ?? "overlay", group.Ipv4?.Subnet, group.Ipv4?.Gateway, Tables.Flags(group));
        }

        console.Write(groups);

        Tables.Section(console, "Hosts");
        var hosts = Tables.Create("HOST", "ALIVE", "APPLIED", "UPLINK", "CURRENT");
        var uplinks = (sw.Members ?? []).ToDictionary(m => m.HostId, m => m.Uplink, StringComparer.Ordinal);
        foreach (var host in sw.Hosts ?? [])
        {
            hosts.Row(host.HostId, Tables.YesNo(host.Alive), Tables.N(host.AppliedGeneration), uplinks.GetValueOrDefault(host.HostId), Tables.YesNo(host.AppliedGeneration >= sw.Version));
        }

        console.Write(hosts);
    }

    private static string HostsCell(SwitchView sw)
    {
        var hosts = sw.Hosts ?? [];
        int alive = hosts.Count(h => h.Alive);
        return alive == hosts.Count ? Tables.N(hosts.Count) : $"{alive}/{hosts.Count} alive";
    }

    private static Argument<string> NameArgument(FabricCli cli)
    {
        var argument = new Argument<string>("NAME") { Description = "The switch's name" };
        argument.CompletionSources.Add(cli.Completions.Switches);
        return argument;
    }
}
