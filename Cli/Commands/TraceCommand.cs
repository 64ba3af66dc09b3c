using System.CommandLine;
using System.Text.Json.Nodes;
using Fabric.Cli.Api;
using Fabric.Cli.Output;
using Spectre.Console;

namespace Fabric.Cli.Commands;

/// <summary>
/// <c>fabricctl trace</c>: where would this frame go? A logical trace as <c>ovn-trace</c> or NSX
/// Traceflow: the host's agent runs the described frame through its real pipeline in a dry run and
/// answers each decision and the output set; nothing is sent or learned
/// (<c>POST /api/hosts/{id}/trace</c>).
/// </summary>
internal static class TraceCommand
{
    public static Command Build(FabricCli cli)
    {
        var host = Common.HostOption(cli, "The host whose agent traces the frame");
        var port = new Option<string>("--port") { Description = "The local port the frame enters on, e.g. vm1", HelpName = "PORT", Required = true };
        var srcMac = new Option<string?>("--src-mac") { Description = "Ethernet source", HelpName = "MAC" };
        var dstMac = new Option<string?>("--dst-mac") { Description = "Ethernet destination (default ff:ff:ff:ff:ff:ff for an ARP request)", HelpName = "MAC" };
        var vlan = new Option<long?>("--vlan") { Description = "An 802.1Q tag on the frame (a trunk port)", HelpName = "VLAN" };
        var etherType = new Option<string?>("--ethertype") { Description = "ipv4, arp, ipv6 or a number such as 0x88cc (default: from --arp or --src-ip/--dst-ip)", HelpName = "TYPE" };
        etherType.CompletionSources.Add("ipv4", "arp", "ipv6");
        var arp = new Option<string?>("--arp") { Description = "An ARP request or reply", HelpName = "request|reply" };
        arp.CompletionSources.Add("request", "reply");
        var senderIp = new Option<string?>("--sender-ip") { Description = "ARP: sender protocol address", HelpName = "IP" };
        var targetIp = new Option<string?>("--target-ip") { Description = "ARP: target protocol address", HelpName = "IP" };
        var senderMac = new Option<string?>("--sender-mac") { Description = "ARP: sender hardware address (default --src-mac)", HelpName = "MAC" };
        var targetMac = new Option<string?>("--target-mac") { Description = "ARP: target hardware address", HelpName = "MAC" };
        var srcIp = new Option<string?>("--src-ip") { Description = "IPv4 source", HelpName = "IP" };
        var dstIp = new Option<string?>("--dst-ip") { Description = "IPv4 destination", HelpName = "IP" };
        var protocol = new Option<string?>("--protocol") { Description = "IPv4: icmp (default), tcp, udp or a number", HelpName = "PROTO" };
        protocol.CompletionSources.Add("icmp", "tcp", "udp");
        var ttl = new Option<long?>("--ttl") { Description = "IPv4 TTL (default 64)", HelpName = "N" };
        var srcPort = new Option<long?>("--src-port") { Description = "TCP/UDP source port", HelpName = "PORT" };
        var dstPort = new Option<long?>("--dst-port") { Description = "TCP/UDP destination port", HelpName = "PORT" };
        var length = new Option<long?>("--length") { Description = "IPv4 total length in bytes (for MTU decisions)", HelpName = "BYTES" };
        var df = new Option<bool?>("--df") { Description = "IPv4 don't-fragment" };
        var hex = new Option<string?>("--hex") { Description = "A whole Ethernet frame in hex instead of the fields above", HelpName = "HEX" };
        var file = Common.FileOption();

        var command = new Command("trace", "Trace a frame through a host's pipeline (dry run): each decision and where it would go")
        {
            host, port, srcMac, dstMac, vlan, etherType, arp, senderIp, targetIp, senderMac, targetMac, srcIp, dstIp, protocol, ttl, srcPort, dstPort, length, df, hex, file,
        };
        return cli.Runs(command, async run =>
        {
            var body = Common.Body(run, file);
            Common.Set(body, "port", Common.Text(run.Get(port)));
            if (run.Get(hex) is { } frameHex)
            {
                body["hex"] = frameHex.Replace(":", string.Empty, StringComparison.Ordinal).Replace(" ", string.Empty, StringComparison.Ordinal);
            }
            else if (body["hex"] is null)
            {
                string? arpOp = run.Get(arp);
                bool ipv4 = run.Get(srcIp) is not null || run.Get(dstIp) is not null || run.Get(protocol) is not null;
                if (arpOp is not null && ipv4)
                {
                    throw new CliUsageException("trace takes an ARP frame (--arp) or an IPv4 packet (--src-ip/--dst-ip), not both.");
                }

                Common.Set(body, "frame.srcMac", Common.Text(run.Get(srcMac)));
                Common.Set(body, "frame.dstMac", Common.Text(run.Get(dstMac) ?? (arpOp == "request" ? "ff:ff:ff:ff:ff:ff" : null)));
                Common.Set(body, "frame.vlan", Common.Number(run.Get(vlan)));
                Common.Set(body, "frame.etherType", Common.Text(run.Get(etherType) ?? (arpOp is not null ? "arp" : ipv4 ? "ipv4" : null)));
                if (arpOp is not null)
                {
                    Common.Set(body, "frame.arp.op", arpOp);
                    Common.Set(body, "frame.arp.senderIp", Common.Text(run.Get(senderIp)));
                    Common.Set(body, "frame.arp.targetIp", Common.Text(run.Get(targetIp)));
                    Common.Set(body, "frame.arp.senderMac", Common.Text(run.Get(senderMac)));
                    Common.Set(body, "frame.arp.targetMac", Common.Text(run.Get(targetMac)));
                }

                if (ipv4)
                {
                    Common.Set(body, "frame.ipv4.src", Common.Text(run.Get(srcIp)));
                    Common.Set(body, "frame.ipv4.dst", Common.Text(run.Get(dstIp)));
                    Common.Set(body, "frame.ipv4.protocol", ProtocolOf(run.Get(protocol) ?? "icmp"));
                    Common.Set(body, "frame.ipv4.ttl", Common.Number(run.Get(ttl)));
                    Common.Set(body, "frame.ipv4.srcPort", Common.Number(run.Get(srcPort)));
                    Common.Set(body, "frame.ipv4.dstPort", Common.Number(run.Get(dstPort)));
                    Common.Set(body, "frame.ipv4.length", Common.Number(run.Get(length)));
                    Common.Set(body, "frame.ipv4.df", Common.Flag(run.Get(df)));
                }

                if (body["frame"] is null)
                {
                    throw new CliUsageException("trace needs a frame: --src-mac and --dst-mac (with --arp or --src-ip/--dst-ip), --hex, or --file.");
                }
            }

            string hostId = run.Get(host)!;
            var answer = await run.Api.PostAsync($"api/hosts/{FabricClient.Segment(hostId)}/trace", body, run.Cancellation);
            if (run.Json)
            {
                JsonOutput.Write(run.Console, answer.Body);
                return FabricCli.Success;
            }

            Show(run.Out, answer.As(CliJson.Default.TraceView));
            return FabricCli.Success;
        });
    }

    /// <summary>Prints a trace: the steps in order, the result, and the output set.</summary>
    public static void Show(IAnsiConsole console, TraceView trace)
    {
        Tables.Line(console, $"host {trace.Host}, port {trace.Port}, vni {(trace.Vni is { } segment ? Tables.N(segment) : "none")}");
        Tables.Line(console, $"frame {trace.FrameHex}");
        var steps = Tables.Create("#", "STAGE", "VERDICT", "DETAIL");
        int n = 0;
        foreach (var step in trace.Steps ?? [])
        {
            steps.Row(Tables.N(++n), step.Stage, step.Verdict, step.Detail);
        }

        console.Write(steps);
        Tables.Line(console, trace.Drop is { Length: > 0 } drop ? $"result: {trace.Result} ({drop})" : $"result: {trace.Result}");
        if (trace.Outputs is { Count: > 0 } outputs)
        {
            var table = Tables.Create("OUTPUT", "TO", "VNI", "VLAN", "FLOOD");
            foreach (var output in outputs)
            {
                table.Row(output.Kind, output.Port ?? output.Vtep, output.Vni is { } vni ? Tables.N(vni) : null, output.Vlan is { } v ? Tables.N(v) : null,
                    output.Flood is { } flood ? Tables.YesNo(flood) : null);
            }

            console.Write(table);
        }
    }

    private static JsonNode ProtocolOf(string text) => long.TryParse(text, out long number) ? JsonValue.Create(number) : JsonValue.Create(text.ToLowerInvariant());
}
