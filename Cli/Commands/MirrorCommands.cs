using System.CommandLine;
using System.Text.Json.Nodes;
using Fabric.Cli.Api;
using Fabric.Cli.Capture;
using Fabric.Cli.Output;

namespace Fabric.Cli.Commands;

/// <summary>
/// <c>fabricctl mirror</c>: capture what a VM port sends and receives, as pcap
/// (<c>GET /api/hosts/{id}/ports/{port}/mirror</c>), and <c>mirror session ls|set|rm</c>: remote
/// mirror sessions to a collector encapsulated in VXLAN or ERSPAN, as a vSphere Distributed Switch's
/// encapsulated remote mirroring (<c>/api/switches/{switch}/mirrors</c>).
/// </summary>
internal static class MirrorCommands
{
    public static Command Build(FabricCli cli)
    {
        var host = new Option<string?>("--host") { Description = "The host of the port", HelpName = "HOST" };
        host.CompletionSources.Add(cli.Completions.Hosts);
        var port = new Option<string?>("--port") { Description = "The port to capture, e.g. vm1", HelpName = "PORT" };
        var direction = Direction();
        var write = new Option<string?>("--write", "-w")
        {
            Description = "Write pcap to FILE; '-' writes it to standard output (| tshark -r -). Without it, one line per frame",
            HelpName = "FILE",
        };
        var count = new Option<long?>("--count", "-c") { Description = "Stop after N frames", HelpName = "N" };
        count.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<long?>() is <= 0)
            {
                r.AddError("--count must be at least 1.");
            }
        });

        var command = new Command("mirror", "Capture a port's frames as pcap (in: what it sends into the switch, out: what it receives), or manage remote mirror sessions")
        {
            host, port, direction, write, count,
        };
        cli.Runs(command, async run =>
        {
            if (run.Get(host) is not { Length: > 0 } hostId || run.Get(port) is not { Length: > 0 } portName)
            {
                throw new CliUsageException("mirror needs --host HOST --port PORT (or: mirror session ls|set|rm).");
            }

            string dir = run.Get(direction) ?? "both";
            string? target = run.Get(write);
            using var response = await run.Api.OpenStreamAsync(
                $"api/hosts/{FabricClient.Segment(hostId)}/ports/{FabricClient.Segment(portName)}/mirror?direction={Uri.EscapeDataString(dir)}", run.Cancellation);
            await using var source = await response.Content.ReadAsStreamAsync(run.Cancellation);
            Stream? sink = target switch
            {
                null => null,
                "-" => run.Console.OpenStandardOutput(),
                _ => new FileStream(target, FileMode.Create, FileAccess.Write, FileShare.Read),
            };
            await run.Console.Error.WriteLineAsync($"fabricctl: capturing on {hostId}/{portName}, direction {dir}{(target is null or "-" ? string.Empty : $", to {target}")}; Ctrl-C stops");
            long frames = 0;
            try
            {
                Action<PcapFrame>? print = target is null ? frame => Tables.Line(run.Out, FrameSummary.Of(frame)) : null;
                await PcapRelay.RelayAsync(source, sink, run.Get(count), f =>
                {
                    frames++;
                    print?.Invoke(f);
                }, run.Cancellation);
            }
            catch (OperationCanceledException) when (run.Cancellation.IsCancellationRequested)
            {
                // Ctrl-C ends a capture as tcpdump's does: what was written stays, exit 0.
            }
            catch (InvalidDataException ex)
            {
                throw new IOException(ex.Message, ex);
            }
            finally
            {
                if (sink is not null)
                {
                    await sink.FlushAsync(CancellationToken.None);
                    if (target != "-")
                    {
                        await sink.DisposeAsync();
                    }
                }
            }

            await run.Console.Error.WriteLineAsync($"fabricctl: {frames} frame{(frames == 1 ? string.Empty : "s")} captured");
            return FabricCli.Success;
        });

        command.Add(Sessions(cli));
        return command;
    }

    private static Command Sessions(FabricCli cli)
    {
        var command = new Command("session", "Remote mirror sessions: a port's frames sent to a collector in VXLAN or ERSPAN");

        var lsSwitch = Common.SwitchOption(cli, "Only this switch's sessions (default: every switch)");
        var ls = new Command("ls", "List the mirror sessions") { lsSwitch };
        command.Add(cli.Runs(ls, async run =>
        {
            var switches = await PortGroupCommands.SwitchesAsync(run, run.Get(lsSwitch));
            var all = new List<(string Switch, JsonNode Node, MirrorSessionView View)>();
            foreach (var (sw, _) in switches)
            {
                var answer = await run.Api.GetAsync($"api/switches/{FabricClient.Segment(sw.Name)}/mirrors", run.Cancellation);
                var views = answer.As(CliJson.Default.MirrorSessionViewArray);
                var nodes = JsonNode.Parse(answer.Body)?.AsArray() ?? [];
                all.AddRange(views.Select((v, i) => (sw.Name, nodes[i]!, v)));
            }

            if (run.Json)
            {
                var array = new JsonArray();
                foreach (var (sw, node, _) in all)
                {
                    var copy = new JsonObject { ["switch"] = sw };
                    foreach (var (key, value) in node.AsObject())
                    {
                        copy[key] = value?.DeepClone();
                    }

                    array.Add((JsonNode)copy);
                }

                JsonOutput.Write(run.Console, array);
                return FabricCli.Success;
            }

            var table = Tables.Create("SWITCH", "NAME", "HOST", "PORT", "DIRECTION", "DESTINATION", "ENCAPSULATION", "VNI", "SESSION");
            foreach (var (sw, _, session) in all)
            {
                table.Row(sw, session.Name, session.Host, session.Port, session.Direction, session.Destination, session.Encapsulation,
                    session.Vni is { } vni ? Tables.N(vni) : null, session.SessionId is { } id ? Tables.N(id) : null);
            }

            run.Out.Write(table);
            return FabricCli.Success;
        }));

        var setName = new Argument<string>("NAME") { Description = "The session's name" };
        var setSwitch = Common.SwitchOption(cli);
        var host = new Option<string?>("--host") { Description = "The host of the mirrored port", HelpName = "HOST" };
        host.CompletionSources.Add(cli.Completions.Hosts);
        var port = new Option<string?>("--port") { Description = "The mirrored port", HelpName = "PORT" };
        var direction = Direction();
        var destination = new Option<string?>("--destination") { Description = "The collector's IPv4 address", HelpName = "IP" };
        var encapsulation = new Option<string?>("--encapsulation") { Description = "vxlan or erspan", HelpName = "vxlan|erspan" };
        encapsulation.CompletionSources.Add("vxlan", "erspan");
        var vni = new Option<long?>("--vni") { Description = "VXLAN: the VNI the mirrored frames carry", HelpName = "VNI" };
        var sessionId = new Option<long?>("--session-id") { Description = "ERSPAN: the session id", HelpName = "ID" };
        var snapLength = new Option<long?>("--snap-length") { Description = "Cut each mirrored frame to this many bytes", HelpName = "BYTES" };
        var file = Common.FileOption();
        var set = new Command("set", "Create or replace a mirror session") { setName, setSwitch, host, port, direction, destination, encapsulation, vni, sessionId, snapLength, file };
        command.Add(cli.Runs(cli.Writes(set), async run =>
        {
            var body = Common.Body(run, file);
            Common.Set(body, "host", Common.Text(run.Get(host)));
            Common.Set(body, "port", Common.Text(run.Get(port)));
            Common.Set(body, "direction", Common.Text(run.Get(direction)));
            Common.Set(body, "destination", Common.Text(run.Get(destination)));
            Common.Set(body, "encapsulation", Common.Text(run.Get(encapsulation)));
            Common.Set(body, "vni", Common.Number(run.Get(vni)));
            Common.Set(body, "sessionId", Common.Number(run.Get(sessionId)));
            Common.Set(body, "snapLength", Common.Number(run.Get(snapLength)));
            string switchName = await Common.SwitchAsync(run, run.Get(setSwitch));
            string name = run.Get(setName);
            var answer = await run.Api.PutAsync($"api/switches/{FabricClient.Segment(switchName)}/mirrors/{FabricClient.Segment(name)}", body, run.Wait, run.Cancellation);
            run.Written(answer, $"mirror session {switchName}/{name} set");
            return FabricCli.Success;
        }));

        var rmName = new Argument<string>("NAME") { Description = "The session's name" };
        var rmSwitch = Common.SwitchOption(cli);
        var rm = new Command("rm", "Remove a mirror session") { rmName, rmSwitch };
        command.Add(cli.Runs(cli.Writes(rm), async run =>
        {
            string switchName = await Common.SwitchAsync(run, run.Get(rmSwitch));
            string name = run.Get(rmName);
            var answer = await run.Api.DeleteAsync($"api/switches/{FabricClient.Segment(switchName)}/mirrors/{FabricClient.Segment(name)}", run.Wait, run.Cancellation);
            run.Written(answer, $"mirror session {switchName}/{name} removed");
            return FabricCli.Success;
        }));

        return command;
    }

    private static Option<string?> Direction()
    {
        var option = new Option<string?>("--direction") { Description = "in (what the port sends into the switch), out (what it receives), or both (default)", HelpName = "in|out|both" };
        option.AcceptOnlyFromAmong("in", "out", "both");
        return option;
    }
}
