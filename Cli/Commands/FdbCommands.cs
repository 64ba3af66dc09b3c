using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Fabric.Cli.Api;
using Fabric.Cli.Output;
using Spectre.Console;

namespace Fabric.Cli.Commands;

/// <summary>
/// <c>fabricctl fdb show|set|rm</c>: a segment's forwarding database (<c>/api/segments/{vni}/macs</c>),
/// as <c>bridge fdb show</c> prints a Linux bridge's: each MAC with where it is and its flags, and
/// the IPv4 bindings the agents answer ARP with.
/// </summary>
internal static class FdbCommands
{
    public static Command Build(FabricCli cli)
    {
        var command = new Command("fdb", "A segment's forwarding database: MACs (static, frozen, moved) and IPv4 bindings");

        var showVni = SegmentCommands.VniArgument();
        var show = new Command("show", "Show the MACs of a segment and its IPv4 bindings") { showVni };
        command.Add(cli.Runs(show, async run =>
        {
            var answer = await run.Api.GetAsync($"api/segments/{FabricClient.Segment(run.Get(showVni))}/macs", run.Cancellation);
            if (run.Json)
            {
                JsonOutput.Write(run.Console, answer.Body);
                return FabricCli.Success;
            }

            Show(run.Out, run.Now, answer.As(CliJson.Default.MacTableView));
            return FabricCli.Success;
        }));

        var setVni = SegmentCommands.VniArgument();
        var setMac = new Argument<string>("MAC") { Description = "The MAC, e.g. 02:00:00:00:00:01" };
        var host = new Option<string?>("--host") { Description = "The fabric host that has the MAC", HelpName = "HOST" };
        host.CompletionSources.Add(cli.Completions.Hosts);
        var port = new Option<string?>("--port") { Description = "The port on that host", HelpName = "PORT" };
        var vtep = new Option<string?>("--vtep") { Description = "Or: the external VTEP (kernel or hardware VTEP) behind which the MAC is", HelpName = "IP" };
        var set = new Command("set", "Pin a MAC (a static entry learning never moves): on a host's port, or behind an external VTEP") { setVni, setMac, host, port, vtep };
        command.Add(cli.Runs(set, async run =>
        {
            JsonObject body;
            if (run.Get(vtep) is { } address)
            {
                if (run.Get(host) is not null || run.Get(port) is not null)
                {
                    throw new CliUsageException("fdb set takes either --host and --port, or --vtep, not both.");
                }

                body = new JsonObject { ["vtep"] = address };
            }
            else
            {
                if (run.Get(host) is not { } hostId || run.Get(port) is not { } portName)
                {
                    throw new CliUsageException("fdb set needs --host HOST --port PORT, or --vtep IP.");
                }

                body = new JsonObject { ["hostId"] = hostId, ["port"] = portName };
            }

            string vni = run.Get(setVni);
            string mac = run.Get(setMac);
            var answer = await run.Api.PutAsync($"api/segments/{FabricClient.Segment(vni)}/macs/{FabricClient.Segment(mac)}", body, null, run.Cancellation);
            run.Written(answer, $"static MAC {mac} set in VNI {vni}", () =>
            {
                var entry = answer.As(CliJson.Default.MacEntryView);
                var table = Tables.Create("MAC", "HOST", "PORT", "VTEP", "FLAGS");
                table.Row(entry.Mac, entry.HostId, entry.Port, entry.Vtep, Tables.Flags(entry));
                run.Out.Write(table);
            });
            return FabricCli.Success;
        }));

        var rmVni = SegmentCommands.VniArgument();
        var rmAddress = new Argument<string>("MAC|IP") { Description = "A MAC to remove from the table, or an IPv4 address whose binding to drop (clears a duplicate flag)" };
        var rm = new Command("rm", "Remove a MAC entry, or an IPv4 binding") { rmVni, rmAddress };
        command.Add(cli.Runs(rm, async run =>
        {
            string vni = run.Get(rmVni);
            string address = run.Get(rmAddress);
            bool ip = IPAddress.TryParse(address, out var parsed) && parsed.AddressFamily == AddressFamily.InterNetwork && !address.Contains(':', StringComparison.Ordinal);
            string path = ip
                ? $"api/segments/{FabricClient.Segment(vni)}/ips/{FabricClient.Segment(address)}"
                : $"api/segments/{FabricClient.Segment(vni)}/macs/{FabricClient.Segment(address)}";
            var answer = await run.Api.DeleteAsync(path, null, run.Cancellation);
            run.Written(answer, ip ? $"IP binding {address} removed from VNI {vni}" : $"MAC {address} removed from VNI {vni}");
            return FabricCli.Success;
        }));

        return command;
    }

    /// <summary>Prints the FDB: one MAC a line (as <c>bridge fdb show</c>), then the IPv4 bindings.</summary>
    public static void Show(IAnsiConsole console, DateTimeOffset now, MacTableView fdb)
    {
        var macs = Tables.Create("MAC", "HOST", "PORT", "VTEP", "SEQ", "AGE", "FLAGS");
        foreach (var entry in fdb.Entries ?? [])
        {
            macs.Row(entry.Mac, entry.HostId, entry.Port, entry.Vtep, Tables.N(entry.Sequence), Tables.Age(entry.LearnedAt, now), Tables.Flags(entry));
        }

        console.Write(macs);
        if (fdb.IpBindings is { Count: > 0 } bindings)
        {
            Tables.Section(console, "IPv4 bindings (ARP suppression)");
            var table = Tables.Create("IP", "MAC", "SEQ", "FLAGS");
            foreach (var binding in bindings)
            {
                table.Row(binding.Ip, binding.Mac, Tables.N(binding.Sequence), binding.Duplicate ? "duplicate" : null);
            }

            console.Write(table);
        }

        Tables.Line(console, $"vni {fdb.Vni}: {fdb.Entries?.Count ?? 0} MACs, {fdb.IpBindings?.Count ?? 0} bindings, version {fdb.Version}");
    }
}
