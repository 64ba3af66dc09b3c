using System.Net;
using Fabric.Cli.Api;
using Fabric.Cli.Commands;
using Spectre.Console.Testing;

namespace Fabric.Cli.Tests;

/// <summary>
/// The tables as an operator reads them (Spectre.Console's TestConsole): one row per line, the
/// flags that matter (static, frozen, moved, duplicate, drops by reason), and API errors as one line.
/// </summary>
[Trait("Category", "Ops")]
public sealed class OutputTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_fdb_shows_each_mac_with_where_it_is_and_static_frozen_and_moved_flags_and_the_bindings()
    {
        var fdb = new MacTableView(5001, Guid.NewGuid(), 42,
            [
                new("02:00:00:00:00:01", "h1", "10.0.0.1", "vm1", 1, Now.AddSeconds(-30), Static: false, Frozen: false),
                new("02:00:00:00:00:02", "h2", "10.0.0.2", "vm1", 4, Now.AddMinutes(-5), Static: false, Frozen: true),
                new("02:00:00:00:00:03", "h1", "10.0.0.1", "vm3", 2, Now.AddHours(-3), Static: true, Frozen: false),
                new("02:00:00:00:00:09", "external-10.0.0.9", "10.0.0.9", "external", 1, Now.AddDays(-2), Static: true, Frozen: false),
            ],
            [new("10.20.0.5", "02:00:00:00:00:01", 1, Duplicate: false), new("10.20.0.6", "02:00:00:00:00:02", 7, Duplicate: true)]);

        var output = Render(c => FdbCommands.Show(c, Now, fdb));

        Assert.Equal(["MAC", "HOST", "PORT", "VTEP", "SEQ", "AGE", "FLAGS"], Words(output[0]));
        Assert.Equal(["02:00:00:00:00:01", "h1", "vm1", "10.0.0.1", "1", "30s", "-"], Words(output[1]));
        Assert.Equal(["02:00:00:00:00:02", "h2", "vm1", "10.0.0.2", "4", "5m", "frozen,moved×3"], Words(output[2]));
        Assert.Equal(["02:00:00:00:00:03", "h1", "vm3", "10.0.0.1", "2", "3h", "static,moved"], Words(output[3]));
        Assert.Equal(["02:00:00:00:00:09", "external-10.0.0.9", "external", "10.0.0.9", "1", "2d", "static,external"], Words(output[4]));
        Assert.Contains(output, l => Words(l) is ["10.20.0.5", "02:00:00:00:00:01", "1", "-"]);
        Assert.Contains(output, l => Words(l) is ["10.20.0.6", "02:00:00:00:00:02", "7", "duplicate"]);
        Assert.Contains("vni 5001: 4 MACs, 2 bindings, version 42", output);
    }

    [Fact]
    public void Host_status_shows_counters_per_port_and_segment_with_drops_by_reason()
    {
        var status = new AgentStatusView("h1", Now.AddSeconds(-1), 7,
            new Dictionary<string, long> { ["received"] = 10, ["drop.ForgedTransmit"] = 2 },
            new Dictionary<string, long> { ["received"] = 4 },
            [new("vm1", false, 1, new Dictionary<string, long> { ["received"] = 10, ["delivered"] = 3, ["encapsulated"] = 5, ["drop.ForgedTransmit"] = 2, ["malformed.Truncated"] = 1 })],
            [new(5001, ["vm1"], ["10.0.0.2", "10.0.0.3"], new Dictionary<string, string> { ["02:00:00:00:00:02"] = "10.0.0.2" }, new Dictionary<string, string> { ["10.20.0.6"] = "02:00:00:00:00:02" },
                new Dictionary<string, long> { ["flooded"] = 6 })],
            [new(5001, "02:00:00:00:00:01", "vm1", ["10.20.0.5"])],
            [new(5001, "02:00:00:00:00:09", "10.0.0.9")]);

        var output = Render(c => HostCommands.Status(c, Now, status));

        Assert.Contains(output, l => l.StartsWith("Total:", StringComparison.Ordinal) && l.EndsWith("drop.ForgedTransmit=2 received=10", StringComparison.Ordinal));
        Assert.True(output.Any(l => Words(l) is ["vm1", "no", "1", "10", "3", "5", "0", "0", "ForgedTransmit=2", "malformed.Truncated=1"]), string.Join("\n", output));
        Assert.Contains(output, l => Words(l) is ["5001", "vm1", "10.0.0.2,10.0.0.3", "1", "1", "0", "0", "0", "6", "0", "-"]);
        Assert.Contains(output, l => Words(l) is ["5001", "02:00:00:00:00:01", "port", "vm1", "10.20.0.5"]);
        Assert.Contains(output, l => Words(l) is ["5001", "02:00:00:00:00:02", "vtep", "10.0.0.2", "-"]);
        Assert.Contains(output, l => Words(l) is ["5001", "02:00:00:00:00:09", "external", "vtep", "10.0.0.9", "-"]);
    }

    [Fact]
    public void A_trace_shows_each_decision_in_order_the_result_and_where_the_frame_goes()
    {
        var trace = new TraceView("h1", "vm1", 5001, "ffffffffffff0200",
            [new("port", "vm1", "access port of web"), new("vlan", "5001", "untagged on an access port: VNI 5001"), new("lookup", "flood", "broadcast: flood list 10.0.0.2")],
            "forwarded", null,
            [new("port", "vm2", null, 5001, null, false, "ff"), new("vtep", null, "10.0.0.2", 5001, null, true, "ff")]);

        var output = Render(c => TraceCommand.Show(c, trace));

        Assert.Equal("host h1, port vm1, vni 5001", output[0]);
        int steps = Array.FindIndex(output, l => Words(l) is ["#", "STAGE", "VERDICT", "DETAIL"]);
        Assert.Equal(["1", "port", "vm1", "access", "port", "of", "web"], Words(output[steps + 1]));
        Assert.Equal(["3", "lookup", "flood", "broadcast:", "flood", "list", "10.0.0.2"], Words(output[steps + 3]));
        Assert.Contains("result: forwarded", output);
        Assert.Contains(output, l => Words(l) is ["port", "vm2", "5001", "-", "no"]);
        Assert.Contains(output, l => Words(l) is ["vtep", "10.0.0.2", "5001", "-", "yes"]);
    }

    [Fact]
    public void A_dropped_trace_names_the_reason()
    {
        var trace = new TraceView("h1", "vm1", 5001, "00", [new("portSecurity", "drop", "source is not the port's MAC")], "dropped", "ForgedTransmit", []);

        Assert.Contains("result: dropped (ForgedTransmit)", Render(c => TraceCommand.Show(c, trace)));
    }

    [Fact]
    public void A_cell_with_brackets_prints_as_it_is_not_as_markup()
    {
        var ports = new HostPortsView("h1", [], 1, [new("tap[0]", "web", null, [], "failed", "no such device [tap[0]]")]);

        var output = Render(c => PortCommands.Show(c, ports));

        Assert.Contains(output, l => Words(l) is ["tap[0]", "web", "operator", "-", "-", "failed", "no", "such", "device", "[tap[0]]"]);
    }

    [Fact]
    public void A_problem_is_one_line_with_status_field_and_detail()
    {
        var problem = FabricApiException.From(HttpStatusCode.BadRequest, "Bad Request",
            """{"type":"https://httpstatuses.io/400","title":"Invalid request","status":400,"detail":"vni 99999999 is out of range;\na VNI is 1..16777215.","field":"vni"}""", "PUT api/x");

        Assert.Equal("400 vni: vni 99999999 is out of range; a VNI is 1..16777215.", problem.OneLine());
    }

    [Fact]
    public void A_barrier_timeout_names_the_hosts_that_have_not_applied()
    {
        var problem = FabricApiException.From(HttpStatusCode.GatewayTimeout, "Gateway Timeout",
            """{"title":"Not applied","status":504,"detail":"generation 7 was not applied within 10s.","hosts":["h2","h3"]}""", "PUT api/switches/dvs");

        Assert.Equal("504 generation 7 was not applied within 10s. (not applied on: h2, h3)", problem.OneLine());
    }

    [Fact]
    public void A_404_without_a_problem_says_the_server_lacks_the_route()
    {
        var problem = FabricApiException.From(HttpStatusCode.NotFound, "Not Found", string.Empty, "GET api/switches/dvs/mirrors");

        Assert.Equal("404 Not Found (GET api/switches/dvs/mirrors: the server has no such route; is it an older silo?)", problem.OneLine());
    }

    [Fact]
    public void Durations_are_sent_as_the_api_reads_them()
    {
        Assert.True(WaitSpec.TryParseDuration("10s", out var ten, out _));
        Assert.Equal("wait=applied&timeout=10s", new WaitSpec(ten).Query);
        Assert.True(WaitSpec.TryParseDuration("2m", out var two, out _));
        Assert.Equal("wait=applied&timeout=120s", new WaitSpec(two).Query);
        Assert.True(WaitSpec.TryParseDuration("250ms", out var quarter, out _));
        Assert.Equal("wait=applied&timeout=250ms", new WaitSpec(quarter).Query);
        Assert.True(WaitSpec.TryParseDuration("5", out var five, out _));
        Assert.Equal(TimeSpan.FromSeconds(5), five);
        Assert.False(WaitSpec.TryParseDuration("-1s", out _, out _));
        Assert.False(WaitSpec.TryParseDuration("2h", out _, out _));
    }

    private static string[] Render(Action<TestConsole> write)
    {
        var console = new TestConsole().Width(200);
        write(console);
        return console.Output.Split('\n').Select(l => l.TrimEnd()).ToArray();
    }

    private static string[] Words(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
