using System.CommandLine;
using Fabric.Cli.Api;
using Fabric.Cli.Output;

namespace Fabric.Cli.Commands;

/// <summary><c>fabricctl vtep add|rm</c>: external VTEPs (a kernel VXLAN device, a hardware VTEP) in a segment's flood list.</summary>
internal static class VtepCommands
{
    public static Command Build(FabricCli cli)
    {
        var command = new Command("vtep", "External VTEPs (kernel or hardware VTEPs without a Fabric agent) in a segment's flood list");

        var addVni = SegmentCommands.VniArgument();
        var addAddress = new Argument<string>("ADDRESS") { Description = "The external VTEP's IPv4 address on the underlay" };
        var add = new Command("add", "Add an external VTEP to a segment's flood list") { addVni, addAddress };
        command.Add(cli.Runs(add, async run =>
        {
            string vni = run.Get(addVni);
            string address = run.Get(addAddress);
            var answer = await run.Api.PutAsync($"api/segments/{FabricClient.Segment(vni)}/vteps/{FabricClient.Segment(address)}", null, null, run.Cancellation);
            run.Written(answer, $"VTEP {address} added to VNI {vni}");
            return FabricCli.Success;
        }));

        var rmVni = SegmentCommands.VniArgument();
        var rmAddress = new Argument<string>("ADDRESS") { Description = "The external VTEP's IPv4 address" };
        var rm = new Command("rm", "Remove an external VTEP from a segment's flood list") { rmVni, rmAddress };
        command.Add(cli.Runs(rm, async run =>
        {
            string vni = run.Get(rmVni);
            string address = run.Get(rmAddress);
            var answer = await run.Api.DeleteAsync($"api/segments/{FabricClient.Segment(vni)}/vteps/{FabricClient.Segment(address)}", null, run.Cancellation);
            run.Written(answer, $"VTEP {address} removed from VNI {vni}");
            return FabricCli.Success;
        }));

        return command;
    }
}
