using System.CommandLine;
using Fabric.Cli.Api;
using Fabric.Cli.Output;
using Spectre.Console;

namespace Fabric.Cli.Commands;

/// <summary><c>fabricctl host ls|show|status</c>: the hosts whose agents registered (<c>/api/hosts</c>) and their counters.</summary>
internal static class HostCommands
{
    /// <summary>The counters a port or segment row shows, in this order (HostAgent/Status/AgentStatus.cs).</summary>
    private static readonly string[] CounterColumns = ["received", "delivered", "encapsulated", "flooded", "arpSuppressed"];

    public static Command Build(FabricCli cli)
    {
        var command = new Command("host", "Hosts: alive, VTEP, agent version, applied generation, counters");

        var ls = new Command("ls", "List the hosts");
        command.Add(cli.Runs(ls, async run =>
        {
            var answer = await run.Api.GetAsync("api/hosts", run.Cancellation);
            if (run.Json)
            {
                JsonOutput.Write(run.Console, answer.Body);
                return FabricCli.Success;
            }

            var table = Tables.Create("HOST", "ALIVE", "VTEP", "VERSION", "SWITCH", "GENERATION", "PORTS", "HEARTBEAT");
            foreach (var host in answer.As(CliJson.Default.HostViewArray))
            {
                table.Row(host.Id, Tables.YesNo(host.Alive), host.Vtep, host.AgentVersion, host.Switch, Tables.N(host.AppliedGeneration), Tables.N(host.Ports?.Count ?? 0),
                    Tables.Age(host.LastHeartbeat, run.Now) + " ago");
            }

            run.Out.Write(table);
            return FabricCli.Success;
        }));

        var showId = HostArgument(cli);
        var show = new Command("show", "Show a host and its registered ports") { showId };
        command.Add(cli.Runs(show, async run =>
        {
            var answer = await run.Api.GetAsync($"api/hosts/{FabricClient.Segment(run.Get(showId))}", run.Cancellation);
            if (run.Json)
            {
                JsonOutput.Write(run.Console, answer.Body);
                return FabricCli.Success;
            }

            var host = answer.As(CliJson.Default.HostView);
            run.Out.Write(Tables.Details(
                ("Host", host.Id),
                ("Alive", Tables.YesNo(host.Alive)),
                ("VTEP", host.Vtep),
                ("Agent version", host.AgentVersion),
                ("Switch", host.Switch),
                ("Applied generation", Tables.N(host.AppliedGeneration)),
                ("Last heartbeat", $"{host.LastHeartbeat:u} ({Tables.Age(host.LastHeartbeat, run.Now)} ago)"),
                ("Management", host.ManagementUrl)));
            Tables.Section(run.Out, "Ports");
            var table = Tables.Create("PORT", "PORT GROUP");
            foreach (var port in host.Ports ?? [])
            {
                table.Row(port.Name, port.PortGroup);
            }

            run.Out.Write(table);
            return FabricCli.Success;
        }));

        var statusId = HostArgument(cli);
        var status = new Command("status", "A host agent's live counters per port, VNI and VTEP, its flood lists and MACs") { statusId };
        command.Add(cli.Runs(status, async run =>
        {
            var answer = await run.Api.GetAsync($"api/hosts/{FabricClient.Segment(run.Get(statusId))}/status", run.Cancellation);
            if (run.Json)
            {
                JsonOutput.Write(run.Console, answer.Body);
                return FabricCli.Success;
            }

            Status(run.Out, run.Now, answer.As(CliJson.Default.AgentStatusView));
            return FabricCli.Success;
        }));

        return command;
    }

    /// <summary>Prints an agent's status: totals, ports, segments, VTEP, and its MACs.</summary>
    public static void Status(IAnsiConsole console, DateTimeOffset now, AgentStatusView status)
    {
        console.Write(Tables.Details(
            ("Host", status.HostId),
            ("Taken", $"{status.WrittenAt:u} ({Tables.Age(status.WrittenAt, now)} ago)"),
            ("Generation", Tables.N(status.Generation)),
            ("Total", Counters(status.Total)),
            ("VTEP", Counters(status.Vtep))));

        Tables.Section(console, "Ports");
        var ports = Tables.Create(["PORT", "TRUNK", "MACS", .. CounterColumns.Select(c => c.ToUpperInvariant()), "DROPS"]);
        foreach (var port in status.Ports ?? [])
        {
            ports.Row([port.Name, Tables.YesNo(port.Trunk), Tables.N(port.Macs), .. CounterColumns.Select(c => Tables.N(port.Counters?.GetValueOrDefault(c) ?? 0)), Drops(port.Counters)]);
        }

        console.Write(ports);

        Tables.Section(console, "Segments");
        var segments = Tables.Create(["VNI", "PORTS", "FLOOD LIST", "REMOTE MACS", "BINDINGS", .. CounterColumns.Select(c => c.ToUpperInvariant()), "DROPS"]);
        foreach (var segment in status.Segments ?? [])
        {
            segments.Row([Tables.N(segment.Vni), string.Join(',', segment.LocalPorts ?? []), string.Join(',', segment.FloodList ?? []), Tables.N(segment.RemoteMacs?.Count ?? 0),
                Tables.N(segment.ArpBindings?.Count ?? 0), .. CounterColumns.Select(c => Tables.N(segment.Counters?.GetValueOrDefault(c) ?? 0)), Drops(segment.Counters)]);
        }

        console.Write(segments);

        Tables.Section(console, "MACs");
        var macs = Tables.Create("VNI", "MAC", "WHERE", "IPS");
        foreach (var mac in status.LocalMacs ?? [])
        {
            macs.Row(Tables.N(mac.Vni), mac.Mac, $"port {mac.Port}", string.Join(',', mac.Ips ?? []));
        }

        foreach (var segment in status.Segments ?? [])
        {
            foreach (var (mac, vtep) in segment.RemoteMacs ?? new Dictionary<string, string>())
            {
                macs.Row(Tables.N(segment.Vni), mac, $"vtep {vtep}", null);
            }
        }

        foreach (var mac in status.ExternalMacs ?? [])
        {
            macs.Row(Tables.N(mac.Vni), mac.Mac, $"external vtep {mac.Vtep}", null);
        }

        console.Write(macs);
    }

    /// <summary>Every non-zero counter as <c>name=value</c>, in name order.</summary>
    private static string Counters(IReadOnlyDictionary<string, long>? counters)
        => counters is { Count: > 0 } ? string.Join(' ', counters.Where(c => c.Value != 0).OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key}={c.Value}")) : "none";

    /// <summary>The drops and malformed frames by reason: <c>ForgedTransmit=3 malformed.Truncated=1</c>.</summary>
    private static string Drops(IReadOnlyDictionary<string, long>? counters)
        => string.Join(' ', (counters ?? new Dictionary<string, long>())
            .Where(c => c.Value != 0 && (c.Key.StartsWith("drop.", StringComparison.Ordinal) || c.Key.StartsWith("malformed.", StringComparison.Ordinal)))
            .OrderBy(c => c.Key, StringComparer.Ordinal)
            .Select(c => $"{(c.Key.StartsWith("drop.", StringComparison.Ordinal) ? c.Key[5..] : c.Key)}={c.Value}"));

    /// <summary>A host id argument.</summary>
    public static Argument<string> HostArgument(FabricCli cli)
    {
        var argument = new Argument<string>("HOST") { Description = "The host id" };
        argument.CompletionSources.Add(cli.Completions.Hosts);
        return argument;
    }
}
