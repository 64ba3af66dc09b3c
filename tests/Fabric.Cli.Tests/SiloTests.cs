using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fabric.Cli.Tests;

/// <summary>
/// fabricctl end to end against a real silo process (embedded mode) and a real host agent: what an
/// operator sets through the CLI is what the API holds, the tables show it, errors are one line.
/// Each test uses switch names and VNIs of its own (the silo is shared by the collection).
/// </summary>
[Collection(SiloCollection.Name)]
[Trait("Category", "Ops")]
public sealed class SiloTests(SiloFixture fabric)
{
    private readonly CliRun _cli = fabric.Cli();

    [Fact]
    public async Task A_switch_and_port_groups_set_through_the_cli_are_listed_with_their_vni_vlan_pool_and_flags()
    {
        await Ok("switch", "set", "dvs1", "--mtu", "1450");
        var web = await Ok("portgroup", "set", "web", "--switch", "dvs1", "--vni", "5001", "--access-vlan", "100",
            "--subnet", "10.20.0.0/24", "--gateway", "10.20.0.1", "--routed", "--dhcp");
        Assert.Contains("port group dvs1/web set", web.Out);
        await Ok("portgroup", "set", "uplinks", "--switch", "dvs1", "--vni", "5003", "--trunk", "100-199,300", "--native-vlan", "100");

        var groups = await Ok("portgroup", "ls", "--switch", "dvs1");
        Assert.Equal(["SWITCH", "NAME", "VNI", "VLAN", "NETWORK", "SUBNET", "GATEWAY", "FLAGS"], Words(groups.Lines[0]));
        Assert.Equal(["dvs1", "web", "5001", "access", "100", "overlay", "10.20.0.0/24", "10.20.0.1", "routed,dhcp"], Words(Row(groups, "dvs1 web")));
        Assert.Equal(["dvs1", "uplinks", "5003", "trunk", "100-199,300", "native", "100", "overlay", "-", "-", "-"], Words(Row(groups, "dvs1 uplinks")));

        var switches = await Ok("switch", "ls");
        Assert.Equal(["dvs1", "1450", "3", "uplinks,web", "0", "yes"], Words(Row(switches, "dvs1")));

        var show = await Ok("portgroup", "show", "web", "--switch", "dvs1");
        Assert.Contains("Subnet:", Row(show, "Subnet:"));
        Assert.EndsWith("10.20.0.0/24", Row(show, "Subnet:"));
        Assert.EndsWith("yes, lease 3600s", Row(show, "DHCP:"));
        Assert.EndsWith("rejected", Row(show, "Forged transmits:"));

        var sw = await Ok("switch", "show", "dvs1");
        Assert.EndsWith("1450", Row(sw, "MTU:"));
        Assert.Equal(["web", "5001", "access", "100", "overlay", "10.20.0.0/24", "10.20.0.1", "routed,dhcp"], Words(Row(sw, "web")));

        var removed = await Ok("portgroup", "rm", "uplinks", "--switch", "dvs1");
        Assert.Contains("port group dvs1/uplinks removed", removed.Out);
        Assert.DoesNotContain("uplinks", (await Ok("portgroup", "ls", "--switch", "dvs1")).Out);
    }

    [Theory]
    [InlineData("99999999", "vni")]
    [InlineData("0", "vni")]
    public async Task A_bad_vni_is_one_line_on_stderr_naming_the_field_and_exit_1(string vni, string field)
    {
        await Ok("switch", "set", "dvs-bad", "--mtu", "1450");

        var result = await _cli.RunAsync("portgroup", "set", "bad", "--switch", "dvs-bad", "--vni", vni);

        Assert.True(result.ExitCode == 1, result.ToString());
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith($"fabricctl: 400 {field}: ", line);
        Assert.Contains("16777215", line);
        Assert.Equal(string.Empty, result.Out);
    }

    [Fact]
    public async Task An_unknown_name_is_a_404_line_and_exit_1()
    {
        var result = await _cli.RunAsync("switch", "show", "no-such-switch");

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("fabricctl: 404 ", line);
        Assert.Contains("no-such-switch", line);
    }

    [Fact]
    public async Task Json_output_is_the_apis_own_json()
    {
        await Ok("switch", "set", "dvs-json", "--mtu", "9000");
        await Ok("portgroup", "set", "app", "--switch", "dvs-json", "--vni", "6001", "--access-vlan", "20");

        var json = await Ok("switch", "show", "dvs-json", "-o", "json");
        string api = await fabric.Silo.Http.GetStringAsync("api/switches/dvs-json");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(api), JsonNode.Parse(json.Out)), $"fabricctl printed:\n{json.Out}\nthe API says:\n{api}");

        var groups = JsonDocument.Parse((await Ok("portgroup", "ls", "--switch", "dvs-json", "-o", "json")).Out).RootElement;
        var app = Assert.Single(groups.EnumerateArray());
        Assert.Equal("dvs-json", app.GetProperty("switch").GetString());
        Assert.Equal(6001, app.GetProperty("vni").GetInt32());
        Assert.Equal(20, app.GetProperty("vlan").GetProperty("accessVlan").GetInt32());

        foreach (string[] command in new string[][] { ["switch", "ls"], ["segment", "ls"], ["host", "ls"], ["segment", "show", "6001"], ["fdb", "show", "6001"], ["ipam", "ls"] })
        {
            var result = await Ok([.. command, "-o", "json"]);
            JsonDocument.Parse(result.Out).Dispose();
        }
    }

    [Fact]
    public async Task A_body_file_sets_the_port_group_and_options_override_its_fields()
    {
        await Ok("switch", "set", "dvs-file", "--mtu", "1450");
        var fromStdin = new CliRun { Server = fabric.Silo.BaseAddress, Input = """{"vni":6101,"vlan":{"mode":"access","accessVlan":200},"security":{"macLimit":8}}""" };

        await fromStdin.RunAsync("portgroup", "set", "filed", "--switch", "dvs-file", "--file", "-", "--vni", "6102");

        var show = await Ok("portgroup", "show", "filed", "--switch", "dvs-file");
        Assert.EndsWith("6102", Row(show, "VNI:"));
        Assert.EndsWith("access 200", Row(show, "VLAN:"));
        Assert.EndsWith("8", Row(show, "MAC limit:"));
    }

    [Fact]
    public async Task An_external_vtep_and_a_static_mac_behind_it_show_in_the_flood_list_and_the_fdb()
    {
        await Ok("switch", "set", "dvs-fdb", "--mtu", "1450");
        await Ok("portgroup", "set", "ext", "--switch", "dvs-fdb", "--vni", "6201");

        await Ok("vtep", "add", "6201", "10.99.0.9");
        var segment = await Ok("segment", "show", "6201");
        Assert.Equal(["external-10.99.0.9", "10.99.0.9", "external"], Words(Row(segment, "external-10.99.0.9")));
        var listed = Words(Row(await Ok("segment", "ls", "--switch", "dvs-fdb"), "6201"));
        Assert.Equal(["6201", "dvs-fdb", "ext"], listed[..3]);
        Assert.Equal(["1", "external-10.99.0.9=10.99.0.9"], listed[4..]);

        await Ok("fdb", "set", "6201", "02:00:00:00:62:01", "--vtep", "10.99.0.9");
        var fdb = await Ok("fdb", "show", "6201");
        Assert.Equal(["MAC", "HOST", "PORT", "VTEP", "SEQ", "AGE", "FLAGS"], Words(fdb.Lines[0]));
        var mac = Words(Row(fdb, "02:00:00:00:62:01"));
        Assert.Equal(["02:00:00:00:62:01", "external-10.99.0.9", "external", "10.99.0.9"], mac[..4]);
        Assert.Equal("static,external", mac[^1]);

        await Ok("fdb", "rm", "6201", "02:00:00:00:62:01");
        Assert.DoesNotContain("02:00:00:00:62:01", (await Ok("fdb", "show", "6201")).Out);

        var missing = await _cli.RunAsync("fdb", "rm", "6201", "02:00:00:00:62:01");
        Assert.Equal(1, missing.ExitCode);
        Assert.StartsWith("fabricctl: 404 ", Assert.Single(missing.ErrorLines));

        await Ok("vtep", "rm", "6201", "10.99.0.9");
        Assert.DoesNotContain("external-10.99.0.9", (await Ok("segment", "show", "6201")).Out);
    }

    [Fact]
    public async Task Hosts_show_alive_vtep_version_and_the_generation_they_applied()
    {
        var hosts = await Ok("host", "ls");
        Assert.Equal(["HOST", "ALIVE", "VTEP", "VERSION", "SWITCH", "GENERATION", "PORTS", "HEARTBEAT"], Words(hosts.Lines[0]));
        var row = Words(Row(hosts, SiloFixture.HostId));
        Assert.Equal([SiloFixture.HostId, "yes", fabric.AgentVtep], row[..3]);
        Assert.Equal(SiloFixture.AgentSwitch, row[4]);

        var show = await Ok("host", "show", SiloFixture.HostId);
        Assert.EndsWith(fabric.AgentVtep, Row(show, "VTEP:"));
        Assert.EndsWith("yes", Row(show, "Alive:"));

        // The switch shows which generation its host applied: current once the agent has caught up.
        await Eventually.WaitAsync(
            async () => Words(Row(await Ok("switch", "show", SiloFixture.AgentSwitch), SiloFixture.HostId)) is [_, "yes", _, _, "yes"],
            TimeSpan.FromSeconds(30),
            $"{SiloFixture.HostId} current on {SiloFixture.AgentSwitch}");
    }

    [Fact]
    public async Task Host_status_shows_the_agents_own_view_relayed_by_the_silo()
    {
        var status = await Ok("host", "status", SiloFixture.HostId);

        Assert.EndsWith(SiloFixture.HostId, Row(status, "Host:"));
        Assert.Equal(["PORT", "TRUNK", "MACS", "RECEIVED", "DELIVERED", "ENCAPSULATED", "FLOODED", "ARPSUPPRESSED", "DROPS"], Words(Row(status, "PORT")));
        Assert.Equal(["VNI", "PORTS", "FLOOD", "LIST", "REMOTE", "MACS", "BINDINGS", "RECEIVED", "DELIVERED", "ENCAPSULATED", "FLOODED", "ARPSUPPRESSED", "DROPS"], Words(Row(status, "VNI")));

        var json = JsonDocument.Parse((await Ok("host", "status", SiloFixture.HostId, "-o", "json")).Out).RootElement;
        Assert.Equal(SiloFixture.HostId, json.GetProperty("hostId").GetString());
    }

    [Fact]
    public async Task A_trace_on_a_port_the_host_does_not_have_is_the_agents_error_in_one_line()
    {
        var result = await _cli.RunAsync("trace", "--host", SiloFixture.HostId, "--port", "nosuchport", "--src-mac", "02:00:00:00:00:01", "--dst-mac", "02:00:00:00:00:02",
            "--src-ip", "10.0.0.1", "--dst-ip", "10.0.0.2");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith("fabricctl: 404 port: ", Assert.Single(result.ErrorLines));
    }

    [Fact]
    public async Task Status_and_trace_of_an_unknown_host_are_404_lines()
    {
        foreach (string[] args in new string[][] { ["host", "status", "no-such-host"], ["trace", "--host", "no-such-host", "--port", "vm1", "--hex", "ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002"] })
        {
            var result = await _cli.RunAsync(args);
            Assert.True(result.ExitCode == 1, result.ToString());
            Assert.StartsWith("fabricctl: 404 ", Assert.Single(result.ErrorLines));
        }
    }

    [Fact]
    public async Task A_port_request_shows_what_the_agent_made_of_it_and_is_withdrawn()
    {
        await Ok("portgroup", "set", "vms", "--switch", SiloFixture.AgentSwitch, "--vni", "6301");

        var set = await Ok("port", "set", "nosuchif0", "--host", SiloFixture.HostId, "--portgroup", "vms");
        Assert.Contains($"port {SiloFixture.HostId}/nosuchif0 requested", set.Out);

        // The interface does not exist on the host: the real agent tries, fails, and says why.
        string row = await Eventually.ValueAsync(
            async () => Row(await Ok("port", "ls", "--host", SiloFixture.HostId), "nosuchif0"),
            r => Words(r) is [_, _, _, _, _, "failed", ..],
            TimeSpan.FromSeconds(30),
            "the agent's report on nosuchif0");
        Assert.Equal(["nosuchif0", "vms", "operator"], Words(row)[..3]);

        await Ok("port", "rm", "nosuchif0", "--host", SiloFixture.HostId);
        Assert.DoesNotContain("nosuchif0", (await Ok("port", "ls", "--host", SiloFixture.HostId)).Out);
    }

    [Fact]
    public async Task Ipam_lists_a_pools_allocations_and_freeing_an_unallocated_address_is_a_404()
    {
        await Ok("switch", "set", "dvs-ipam", "--mtu", "1450");
        await Ok("portgroup", "set", "pool", "--switch", "dvs-ipam", "--vni", "6401", "--subnet", "10.64.0.0/24", "--gateway", "10.64.0.1");

        var ls = await Ok("ipam", "ls", "pool", "--switch", "dvs-ipam");
        Assert.Equal(["SWITCH", "PORT", "GROUP", "ADDRESS", "GATEWAY", "OWNER", "HOST", "AGE", "EXPIRES"], Words(ls.Lines[0]));

        var rm = await _cli.RunAsync("ipam", "rm", "pool", "10.64.0.7/24", "--switch", "dvs-ipam");
        Assert.Equal(1, rm.ExitCode);
        Assert.StartsWith("fabricctl: 404 ", Assert.Single(rm.ErrorLines));
    }

    [Fact]
    public async Task A_remote_mirror_session_is_set_listed_and_removed_and_a_bad_one_names_its_field()
    {
        await Ok("mirror", "session", "set", "tap1", "--switch", SiloFixture.AgentSwitch, "--host", SiloFixture.HostId, "--port", "vm1",
            "--destination", "10.99.1.1", "--encapsulation", "erspan", "--session-id", "7");

        var ls = await Ok("mirror", "session", "ls", "--switch", SiloFixture.AgentSwitch);
        Assert.Equal(["SWITCH", "NAME", "HOST", "PORT", "DIRECTION", "DESTINATION", "ENCAPSULATION", "VNI", "SESSION"], Words(ls.Lines[0]));
        Assert.Equal([SiloFixture.AgentSwitch, "tap1", SiloFixture.HostId, "vm1", "both", "10.99.1.1", "erspan", "-", "7"], Words(Row(ls, $"{SiloFixture.AgentSwitch} tap1")));

        var bad = await _cli.RunAsync("mirror", "session", "set", "tap2", "--switch", SiloFixture.AgentSwitch, "--host", SiloFixture.HostId, "--port", "vm1",
            "--destination", "not-an-ip", "--encapsulation", "vxlan", "--vni", "9999");
        Assert.Equal(1, bad.ExitCode);
        Assert.StartsWith("fabricctl: 400 destination: ", Assert.Single(bad.ErrorLines));

        await Ok("mirror", "session", "rm", "tap1", "--switch", SiloFixture.AgentSwitch);
        Assert.DoesNotContain("tap1", (await Ok("mirror", "session", "ls")).Out);
    }

    [Fact]
    public async Task Wait_adds_the_barrier_query_to_the_write()
    {
        await Ok("switch", "set", "dvs-wait", "--mtu", "1450", "--wait", "--timeout", "3s");
        await Ok("portgroup", "set", "w", "--switch", "dvs-wait", "--vni", "6501", "--wait");
        await Ok("portgroup", "rm", "w", "--switch", "dvs-wait", "--timeout", "1500ms");

        Assert.Contains(_cli.Requests, r => r.StartsWith("PUT ", StringComparison.Ordinal) && r.EndsWith("/api/switches/dvs-wait?wait=applied&timeout=3s", StringComparison.Ordinal));
        Assert.Contains(_cli.Requests, r => r.StartsWith("PUT ", StringComparison.Ordinal) && r.EndsWith("/api/switches/dvs-wait/portgroups/w?wait=applied&timeout=10s", StringComparison.Ordinal));
        Assert.Contains(_cli.Requests, r => r.StartsWith("DELETE ", StringComparison.Ordinal) && r.EndsWith("/api/switches/dvs-wait/portgroups/w?wait=applied&timeout=1500ms", StringComparison.Ordinal));
        Assert.DoesNotContain(_cli.Requests, r => r.StartsWith("GET ", StringComparison.Ordinal) && r.Contains("wait=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Completion_offers_the_servers_switches_port_groups_and_hosts()
    {
        await Ok("switch", "set", "dvs-complete", "--mtu", "1450");
        await Ok("portgroup", "set", "compl", "--switch", "dvs-complete", "--vni", "6601");

        Assert.Contains("dvs-complete", await SuggestAsync("fabricctl portgroup show --switch "));
        Assert.Contains("compl", await SuggestAsync("fabricctl portgroup show --switch dvs-complete "));
        Assert.Contains(SiloFixture.HostId, await SuggestAsync("fabricctl host show "));
        Assert.Contains(SiloFixture.HostId, await SuggestAsync("fabricctl port ls --host "));
    }

    private async Task<string[]> SuggestAsync(string line)
    {
        var result = await _cli.RunAsync($"[suggest:{line.Length}]", line);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Lines;
    }

    private async Task<CliResult> Ok(params string[] args)
    {
        var result = await _cli.RunAsync(args);
        Assert.True(result.ExitCode == 0, $"fabricctl {string.Join(' ', args)}: {result}");
        return result;
    }

    /// <summary>The first line whose first words are <paramref name="leading"/> (words split on spaces).</summary>
    internal static string Row(CliResult result, string leading)
    {
        string[] want = Words(leading);
        return result.Lines.FirstOrDefault(l => Words(l) is var words && words.Length >= want.Length && words[..want.Length].SequenceEqual(want))
            ?? throw new Xunit.Sdk.XunitException($"no row '{leading}' in:\n{result.Out}");
    }

    internal static string[] Words(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
