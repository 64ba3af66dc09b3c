using System.CommandLine;
using System.Text.Json.Nodes;
using Fabric.Cli.Api;
using Fabric.Cli.Output;

namespace Fabric.Cli.Commands;

/// <summary><c>fabricctl segment ls|show</c>: the segments (one per VNI) and their flood lists (<c>/api/segments/{vni}</c>).</summary>
internal static class SegmentCommands
{
    public static Command Build(FabricCli cli)
    {
        var command = new Command("segment", "Segments (one per VNI) and their flood lists: which VTEPs get the VNI's broadcast and unknown unicast");

        var lsSwitch = Common.SwitchOption(cli, "Only this switch's segments (default: every switch)");
        var ls = new Command("ls", "List the segments of the switches' port groups with their flood lists") { lsSwitch };
        command.Add(cli.Runs(ls, async run =>
        {
            var switches = await PortGroupCommands.SwitchesAsync(run, run.Get(lsSwitch));
            var segments = new List<(SegmentView View, string Body)>();
            foreach (var (sw, _) in switches)
            {
                foreach (var group in sw.PortGroups ?? [])
                {
                    var answer = await run.Api.GetAsync($"api/segments/{group.Vni}", run.Cancellation);
                    segments.Add((answer.As(CliJson.Default.SegmentView), answer.Body));
                }
            }

            if (run.Json)
            {
                JsonOutput.Write(run.Console, new JsonArray([.. segments.Select(s => JsonNode.Parse(s.Body))]));
                return FabricCli.Success;
            }

            var table = Tables.Create("VNI", "SWITCH", "PORT GROUP", "VERSION", "VTEPS", "FLOOD LIST");
            foreach (var (segment, _) in segments.OrderBy(s => s.View.Vni))
            {
                var flood = segment.FloodList ?? [];
                table.Row(Tables.N(segment.Vni), segment.Switch, segment.PortGroup, Tables.N(segment.Version), Tables.N(flood.Count), string.Join(' ', flood.Select(e => $"{e.HostId}={e.Vtep}")));
            }

            run.Out.Write(table);
            return FabricCli.Success;
        }));

        var vni = VniArgument();
        var show = new Command("show", "Show a segment and its flood list") { vni };
        command.Add(cli.Runs(show, async run =>
        {
            var answer = await run.Api.GetAsync($"api/segments/{FabricClient.Segment(run.Get(vni))}", run.Cancellation);
            if (run.Json)
            {
                JsonOutput.Write(run.Console, answer.Body);
                return FabricCli.Success;
            }

            var segment = answer.As(CliJson.Default.SegmentView);
            run.Out.Write(Tables.Details(
                ("VNI", Tables.N(segment.Vni)),
                ("Switch", segment.Switch),
                ("Port group", segment.PortGroup),
                ("Epoch", segment.Epoch.ToString()),
                ("Version", Tables.N(segment.Version))));
            Tables.Section(run.Out, "Flood list");
            var table = Tables.Create("HOST", "VTEP", "KIND");
            foreach (var entry in segment.FloodList ?? [])
            {
                table.Row(entry.HostId, entry.Vtep, entry.HostId.StartsWith("external-", StringComparison.Ordinal) ? "external" : "fabric host");
            }

            run.Out.Write(table);
            return FabricCli.Success;
        }));

        return command;
    }

    /// <summary>A VNI argument (checked by the API, which names the field <c>vni</c>).</summary>
    public static Argument<string> VniArgument() => new("VNI") { Description = "The VXLAN network identifier, 1..16777215" };
}
