using System.CommandLine;
using Fabric.Cli.Api;
using Fabric.Cli.Output;
using Spectre.Console;

namespace Fabric.Cli.Commands;

/// <summary>
/// <c>fabricctl port ls|set|rm --host H</c>: ports an operator asks a host's agent to attach at run time
/// (<c>/api/hosts/{id}/ports</c>), and what the agent made of each request.
/// </summary>
internal static class PortCommands
{
    public static Command Build(FabricCli cli)
    {
        var command = new Command("port", "A host's ports: registered by its agent, and the operator's attach requests with their status");

        var lsHost = Common.HostOption(cli);
        var ls = new Command("ls", "List a host's registered ports and port requests") { lsHost };
        command.Add(cli.Runs(ls, async run =>
        {
            var answer = await run.Api.GetAsync($"api/hosts/{FabricClient.Segment(run.Get(lsHost)!)}/ports", run.Cancellation);
            if (run.Json)
            {
                JsonOutput.Write(run.Console, answer.Body);
                return FabricCli.Success;
            }

            Show(run.Out, answer.As(CliJson.Default.HostPortsView));
            return FabricCli.Success;
        }));

        var setInterface = InterfaceArgument();
        var setHost = Common.HostOption(cli);
        var portGroup = new Option<string?>("--portgroup", "--pg") { Description = "The port group the port joins", HelpName = "PORTGROUP" };
        portGroup.CompletionSources.Add(cli.Completions.PortGroups);
        var mac = new Option<string?>("--mac") { Description = "The port's MAC (default: the interface's)", HelpName = "MAC" };
        var ipv4 = new Option<string[]>("--ipv4") { Description = "The port's IPv4 addresses with prefix, e.g. 10.20.0.7/24; repeatable", HelpName = "CIDR" };
        var setFile = Common.FileOption();
        var set = new Command("set", "Ask a host's agent to attach an interface to a port group (202: done at its next heartbeat)") { setInterface, setHost, portGroup, mac, ipv4, setFile };
        command.Add(cli.Runs(cli.Writes(set), async run =>
        {
            var body = Common.Body(run, setFile);
            Common.Set(body, "portGroup", Common.Text(run.Get(portGroup)));
            Common.Set(body, "mac", Common.Text(run.Get(mac)));
            Common.Set(body, "ipv4", Common.Array(run.Get(ipv4)));
            string host = run.Get(setHost)!;
            string name = run.Get(setInterface);
            var answer = await run.Api.PutAsync($"api/hosts/{FabricClient.Segment(host)}/ports/{FabricClient.Segment(name)}", body, run.Wait, run.Cancellation);
            run.Written(answer, $"port {host}/{name} requested", () => Show(run.Out, answer.As(CliJson.Default.HostPortsView)));
            return FabricCli.Success;
        }));

        var rmInterface = InterfaceArgument();
        var rmHost = Common.HostOption(cli);
        var rm = new Command("rm", "Withdraw a port request: the agent detaches the port") { rmInterface, rmHost };
        command.Add(cli.Runs(cli.Writes(rm), async run =>
        {
            string host = run.Get(rmHost)!;
            string name = run.Get(rmInterface);
            var answer = await run.Api.DeleteAsync($"api/hosts/{FabricClient.Segment(host)}/ports/{FabricClient.Segment(name)}", run.Wait, run.Cancellation);
            run.Written(answer, $"port request {host}/{name} withdrawn");
            return FabricCli.Success;
        }));

        return command;
    }

    /// <summary>Prints a host's registered ports and requests.</summary>
    public static void Show(IAnsiConsole console, HostPortsView ports)
    {
        var table = Tables.Create("PORT", "PORT GROUP", "SOURCE", "MAC", "IPV4", "STATUS", "ERROR");
        var requested = (ports.Requested ?? []).ToDictionary(r => r.Interface, StringComparer.Ordinal);
        foreach (var port in ports.Registered ?? [])
        {
            if (!requested.ContainsKey(port.Name))
            {
                table.Row(port.Name, port.PortGroup, "agent", null, null, "attached", null);
            }
        }

        foreach (var request in ports.Requested ?? [])
        {
            table.Row(request.Interface, request.PortGroup, "operator", request.Mac, string.Join(',', request.Ipv4 ?? []), request.Status, request.Error);
        }

        console.Write(table);
    }

    private static Argument<string> InterfaceArgument() => new("INTERFACE") { Description = "The interface on the host, e.g. vm1 or tap0" };
}
