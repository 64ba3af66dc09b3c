using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Fabric.Silo.Tests;

/// <summary>The management API of a real silo process, over HTTP, as an operator's script uses it.</summary>
[Collection(SiloCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class ManagementApiTests(SiloProcessFixture silo)
{
    private HttpClient Http => silo.Http;

    private static string UniqueName(string stem) => $"{stem}-{Guid.NewGuid():N}"[..24];

    private static long NextVni() => Interlocked.Increment(ref s_vni);

    private static long s_vni = Random.Shared.Next(100_000, 10_000_000);

    [Fact]
    public async Task Healthz_answers_200_once_the_silo_is_active()
    {
        using var response = await Http.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("active", body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Dashboard_is_served_on_the_api_port()
    {
        var html = await Http.GetStringAsync("/");
        Assert.Contains("Orleans Dashboard", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_switch_is_created_listed_and_updated_with_a_new_version()
    {
        string name = UniqueName("sw");
        var created = await PutAsync($"api/switches/{name}", """{"mtu":1450}""", HttpStatusCode.OK);
        Assert.Equal(name, created.GetProperty("name").GetString());
        Assert.Equal(1450, created.GetProperty("mtu").GetInt32());
        long v1 = created.GetProperty("version").GetInt64();

        var updated = await PutAsync($"api/switches/{name}", """{"mtu":9000}""", HttpStatusCode.OK);
        Assert.Equal(9000, updated.GetProperty("mtu").GetInt32());
        Assert.True(updated.GetProperty("version").GetInt64() > v1);

        var list = await Http.GetFromJsonAsync<JsonElement>("api/switches");
        Assert.Contains(list.EnumerateArray(), s => s.GetProperty("name").GetString() == name && s.GetProperty("mtu").GetInt32() == 9000);
    }

    [Fact]
    public async Task A_port_group_gets_access_untagged_and_default_security_when_the_body_names_only_the_vni()
    {
        string name = await NewSwitchAsync();
        long vni = NextVni();
        var group = await PutAsync($"api/switches/{name}/portgroups/web", $$"""{"vni":{{vni}}}""", HttpStatusCode.OK);
        Assert.Equal(vni, group.GetProperty("vni").GetInt64());
        Assert.Equal("access", group.GetProperty("vlan").GetProperty("mode").GetString());
        Assert.Equal(JsonValueKind.Null, group.GetProperty("vlan").GetProperty("accessVlan").ValueKind);
        Assert.False(group.GetProperty("security").GetProperty("allowForgedTransmits").GetBoolean());
        Assert.True(group.GetProperty("security").GetProperty("macLimit").GetInt32() > 0);

        var sw = await Http.GetFromJsonAsync<JsonElement>($"api/switches/{name}");
        Assert.Contains(sw.GetProperty("portGroups").EnumerateArray(), g => g.GetProperty("name").GetString() == "web");

        var segment = await Http.GetFromJsonAsync<JsonElement>($"api/segments/{vni}");
        Assert.Equal(name, segment.GetProperty("switch").GetString());
        Assert.Equal("web", segment.GetProperty("portGroup").GetString());
        Assert.Equal(0, segment.GetProperty("floodList").GetArrayLength());
    }

    [Fact]
    public async Task A_trunk_port_group_keeps_its_ranges_and_native_vlan()
    {
        string name = await NewSwitchAsync();
        long vni = NextVni();
        var group = await PutAsync(
            $"api/switches/{name}/portgroups/trunk",
            $$$"""{"vni":{{{vni}}},"vlan":{"mode":"trunk","trunkRanges":["100-199","300"],"nativeVlan":100}}""",
            HttpStatusCode.OK);
        var vlan = group.GetProperty("vlan");
        Assert.Equal("trunk", vlan.GetProperty("mode").GetString());
        Assert.Equal(["100-199", "300"], vlan.GetProperty("trunkRanges").EnumerateArray().Select(r => r.GetString()!).ToArray());
        Assert.Equal(100, vlan.GetProperty("nativeVlan").GetInt32());
    }

    [Theory]
    [InlineData("""{"vni":0}""", "vni")]
    [InlineData("""{"vni":16777216}""", "vni")]
    [InlineData("""{"vni":-5}""", "vni")]
    [InlineData("""{}""", "vni")]
    [InlineData("""{"vni":"five"}""", "vni")]
    [InlineData("""{"vni":"7001"}""", "vni")]
    [InlineData("""{"vni":7001,"vlan":{"mode":"access","accessVlan":"100"}}""", "vlan.accessVlan")]
    [InlineData("""{"vni":7001,"vlan":{"mode":"access","accessVlan":4095}}""", "vlan.accessVlan")]
    [InlineData("""{"vni":7001,"vlan":{"mode":"access","accessVlan":0}}""", "vlan.accessVlan")]
    [InlineData("""{"vni":7001,"vlan":{"mode":"trunk","trunkRanges":["10-5000"]}}""", "vlan.trunkRanges")]
    [InlineData("""{"vni":7001,"vlan":{"mode":"trunk","trunkRanges":["ten"]}}""", "vlan.trunkRanges")]
    [InlineData("""{"vni":7001,"vlan":{"mode":"hybrid"}}""", "vlan.mode")]
    [InlineData("""{"vni":7001,"security":{"macLimit":0}}""", "security.macLimit")]
    [InlineData("""{"vni":""", "vni")]
    [InlineData("""{"vni":7001,"forwardReservedGroups":["01:80:c2:00:00:01"]}""", "forwardReservedGroups")]
    [InlineData("""{"vni":7001,"forwardReservedGroups":["01:80:c2:00:00:10"]}""", "forwardReservedGroups")]
    [InlineData("""{"vni":7001,"forwardReservedGroups":["lldp"]}""", "forwardReservedGroups")]
    [InlineData("""{"vni":7001,"ipv4":{"subnet":"10.20.0.0/33"}}""", "ipv4.subnet")]
    [InlineData("""{"vni":7001,"ipv4":{"gateway":"10.20.0.1"}}""", "ipv4.subnet")]
    [InlineData("""{"vni":7001,"ipv4":{"subnet":"10.20.0.0/24","gateway":"10.20.1.1"}}""", "ipv4.gateway")]
    [InlineData("""{"vni":7001,"ipv4":{"subnet":"10.20.0.0/24","ranges":["10.20.0.10-10.20.9.1"]}}""", "ipv4.ranges")]
    [InlineData("""{"vni":7001,"ipv4":{"subnet":"10.20.0.0/24","exclude":["banana"]}}""", "ipv4.exclude")]
    [InlineData("""{"vni":7001,"network":"vlan"}""", "network")]
    [InlineData("""{"vni":7001,"routed":true}""", "routed")]
    [InlineData("""{"vni":7001,"network":"bridged","bridged":{"uplinkVlan":4095}}""", "bridged.uplinkVlan")]
    [InlineData("""{"vni":7001,"network":"nat","ipv4":{"subnet":"10.20.0.0/24","gateway":"10.20.0.1"},"portForwards":[{"protocol":"tcp","hostPort":70000,"vmAddress":"10.20.0.5","vmPort":80}]}""", "portForwards[0].hostPort")]
    [InlineData("""{"vni":7001,"network":"nat","ipv4":{"subnet":"10.20.0.0/24","gateway":"10.20.0.1"},"portForwards":[{"protocol":"tcp","hostPort":80,"vmAddress":"web","vmPort":80}]}""", "portForwards[0].vmAddress")]
    [InlineData("""{"vni":7001,"ipv4":{"subnet":"10.20.0.0/24","dhcp":true}}""", "ipv4.dhcp")]
    [InlineData("""{"vni":7001,"ipv4":{"subnet":"10.20.0.0/24","gateway":"10.20.0.1","leaseTime":5}}""", "ipv4.leaseTime")]
    public async Task A_bad_port_group_gets_400_naming_the_field_and_changes_nothing(string body, string field)
    {
        string name = await NewSwitchAsync();
        long before = await SwitchVersionAsync(name);

        var problem = await PutAsync($"api/switches/{name}/portgroups/bad", body, HttpStatusCode.BadRequest);
        Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));

        Assert.Equal(before, await SwitchVersionAsync(name));
        var sw = await Http.GetFromJsonAsync<JsonElement>($"api/switches/{name}");
        Assert.DoesNotContain(sw.GetProperty("portGroups").EnumerateArray(), g => g.GetProperty("name").GetString() == "bad");
    }

    [Fact]
    public async Task Routing_dhcp_and_network_mode_settings_are_shown_as_given()
    {
        string name = await NewSwitchAsync();
        var routed = await PutAsync($"api/switches/{name}/portgroups/web", $$$"""{"vni":{{{NextVni()}}},"routed":true,"ipv4":{"subnet":"10.21.0.0/24","gateway":"10.21.0.1","dhcp":true,"dnsServers":["10.21.0.53"],"leaseTime":600}}""", HttpStatusCode.OK);
        Assert.True(routed.GetProperty("routed").GetBoolean());
        Assert.Equal("overlay", routed.GetProperty("network").GetString());
        Assert.True(routed.GetProperty("ipv4").GetProperty("dhcp").GetBoolean());
        Assert.Equal(["10.21.0.53"], routed.GetProperty("ipv4").GetProperty("dnsServers").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal(600, routed.GetProperty("ipv4").GetProperty("leaseTime").GetInt32());

        var nat = await PutAsync($"api/switches/{name}/portgroups/nat", $$$"""{"vni":{{{NextVni()}}},"network":"nat","ipv4":{"subnet":"10.22.0.0/24","gateway":"10.22.0.1"},"portForwards":[{"protocol":"TCP","hostPort":8080,"vmAddress":"10.22.0.10","vmPort":80}]}""", HttpStatusCode.OK);
        Assert.Equal("nat", nat.GetProperty("network").GetString());
        var forward = Assert.Single(nat.GetProperty("portForwards").EnumerateArray());
        Assert.Equal(("tcp", 8080, "10.22.0.10", 80), (forward.GetProperty("protocol").GetString(), forward.GetProperty("hostPort").GetInt32(), forward.GetProperty("vmAddress").GetString(), forward.GetProperty("vmPort").GetInt32()));

        var lan = await PutAsync($"api/switches/{name}/portgroups/lan", $$$"""{"vni":{{{NextVni()}}},"network":"bridged","bridged":{"uplinkVlan":100}}""", HttpStatusCode.OK);
        Assert.Equal(100, lan.GetProperty("bridged").GetProperty("uplinkVlan").GetInt32());
    }

    [Fact]
    public async Task A_port_group_with_an_ipv4_pool_shows_it_normalised_and_lists_its_allocations()
    {
        string name = await NewSwitchAsync();
        var group = await PutAsync($"api/switches/{name}/portgroups/web", $$$"""{"vni":{{{NextVni()}}},"ipv4":{"subnet":"10.20.0.0/24","gateway":"10.20.0.1","exclude":["10.20.0.50"]}}""", HttpStatusCode.OK);
        var ipv4 = group.GetProperty("ipv4");
        Assert.Equal("10.20.0.0/24", ipv4.GetProperty("subnet").GetString());
        Assert.Equal("10.20.0.1", ipv4.GetProperty("gateway").GetString());
        Assert.Equal(["10.20.0.1-10.20.0.254"], ipv4.GetProperty("ranges").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(["10.20.0.50"], ipv4.GetProperty("exclude").EnumerateArray().Select(r => r.GetString()));

        var allocations = await Http.GetFromJsonAsync<JsonElement>($"api/switches/{name}/portgroups/web/allocations");
        Assert.Equal(0, allocations.GetArrayLength());
        using var unknownGroup = await Http.GetAsync($"api/switches/{name}/portgroups/nope/allocations");
        Assert.Equal(HttpStatusCode.NotFound, unknownGroup.StatusCode);
        using var free = await Http.DeleteAsync($"api/switches/{name}/portgroups/web/allocations/10.20.0.7");
        Assert.Equal(HttpStatusCode.NotFound, free.StatusCode);

        // Another port group of the switch may not overlap it.
        var problem = await PutAsync($"api/switches/{name}/portgroups/db", $$$"""{"vni":{{{NextVni()}}},"ipv4":{"subnet":"10.20.0.128/25"}}""", HttpStatusCode.BadRequest);
        Assert.Equal("ipv4.subnet", problem.GetProperty("field").GetString());
    }

    [Fact]
    public async Task A_vni_already_used_by_another_port_group_is_rejected_and_changes_nothing()
    {
        string name = await NewSwitchAsync();
        long vni = NextVni();
        await PutAsync($"api/switches/{name}/portgroups/a", $$"""{"vni":{{vni}}}""", HttpStatusCode.OK);
        long before = await SwitchVersionAsync(name);

        var problem = await PutAsync($"api/switches/{name}/portgroups/b", $$"""{"vni":{{vni}}}""", HttpStatusCode.BadRequest);
        Assert.Equal("vni", problem.GetProperty("field").GetString());
        Assert.Equal(before, await SwitchVersionAsync(name));

        string other = await NewSwitchAsync();
        var across = await PutAsync($"api/switches/{other}/portgroups/c", $$"""{"vni":{{vni}}}""", HttpStatusCode.BadRequest);
        Assert.Equal("vni", across.GetProperty("field").GetString());
    }

    [Fact]
    public async Task An_access_vlan_already_used_by_another_port_group_of_the_switch_is_rejected()
    {
        string name = await NewSwitchAsync();
        await PutAsync($"api/switches/{name}/portgroups/a", $$$"""{"vni":{{{NextVni()}}},"vlan":{"mode":"access","accessVlan":100}}""", HttpStatusCode.OK);
        long before = await SwitchVersionAsync(name);

        var problem = await PutAsync($"api/switches/{name}/portgroups/b", $$$"""{"vni":{{{NextVni()}}},"vlan":{"mode":"access","accessVlan":100}}""", HttpStatusCode.BadRequest);
        Assert.Equal("vlan.accessVlan", problem.GetProperty("field").GetString());
        Assert.Equal(before, await SwitchVersionAsync(name));
    }

    [Theory]
    [InlineData("""{"mtu":100}""", "mtu")]
    [InlineData("""{"mtu":65536}""", "mtu")]
    [InlineData("""{}""", "mtu")]
    [InlineData("""not json""", "body")]
    public async Task A_bad_switch_body_gets_400_naming_the_field(string body, string field)
    {
        string name = UniqueName("sw");
        var problem = await PutAsync($"api/switches/{name}", body, HttpStatusCode.BadRequest);
        Assert.Equal(field, problem.GetProperty("field").GetString());
        using var get = await Http.GetAsync($"api/switches/{name}");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Theory]
    [InlineData("api/switches/no-such-switch")]
    [InlineData("api/hosts/no-such-host")]
    [InlineData("api/segments/16000001")]
    public async Task Unknown_names_get_404_problem_details(string path)
    {
        using var response = await Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("api/switches/bad%20name", "name")]
    [InlineData("api/segments/0", "vni")]
    [InlineData("api/segments/16777216/macs", "vni")]
    [InlineData("api/segments/abc", "vni")]
    public async Task Bad_names_in_the_path_get_400_naming_the_field(string path, string field)
    {
        using var response = await Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(field, problem.GetProperty("field").GetString());
    }

    [Fact]
    public async Task A_port_group_on_an_unknown_switch_gets_404()
    {
        var problem = await PutAsync($"api/switches/{UniqueName("ghost")}/portgroups/web", $$"""{"vni":{{NextVni()}}}""", HttpStatusCode.NotFound);
        Assert.Contains("switch", problem.GetProperty("title").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_deleted_port_group_is_gone_and_its_vni_is_free_again()
    {
        string name = await NewSwitchAsync();
        long vni = NextVni();
        await PutAsync($"api/switches/{name}/portgroups/tmp", $$"""{"vni":{{vni}}}""", HttpStatusCode.OK);

        using (var delete = await Http.DeleteAsync($"api/switches/{name}/portgroups/tmp"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        using (var again = await Http.DeleteAsync($"api/switches/{name}/portgroups/tmp"))
        {
            Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        }

        await PutAsync($"api/switches/{name}/portgroups/reuse", $$"""{"vni":{{vni}}}""", HttpStatusCode.OK);
    }

    [Fact]
    public async Task The_fdb_of_a_new_segment_is_empty_and_bad_static_entries_are_rejected()
    {
        long vni = NextVni();
        var fdb = await Http.GetFromJsonAsync<JsonElement>($"api/segments/{vni}/macs");
        Assert.Equal(vni, fdb.GetProperty("vni").GetInt64());
        Assert.Equal(0, fdb.GetProperty("entries").GetArrayLength());

        var badMac = await PutAsync($"api/segments/{vni}/macs/zz:00:00:00:00:01", """{"hostId":"h1","port":"p1"}""", HttpStatusCode.BadRequest);
        Assert.Equal("mac", badMac.GetProperty("field").GetString());

        await PutAsync($"api/segments/{vni}/macs/02:00:00:00:00:01", """{"hostId":"no-such-host","port":"p1"}""", HttpStatusCode.NotFound);
        fdb = await Http.GetFromJsonAsync<JsonElement>($"api/segments/{vni}/macs");
        Assert.Equal(0, fdb.GetProperty("entries").GetArrayLength());
    }

    [Fact]
    public async Task An_external_vtep_joins_and_leaves_a_segment_flood_list_and_can_hold_static_macs()
    {
        string name = await NewSwitchAsync();
        long vni = NextVni();
        await PutAsync($"api/switches/{name}/portgroups/ext", $$"""{"vni":{{vni}}}""", HttpStatusCode.OK);

        await PutAsync($"api/segments/{vni}/vteps/10.99.0.7", "{}", HttpStatusCode.OK);
        var segment = await Http.GetFromJsonAsync<JsonElement>($"api/segments/{vni}");
        Assert.Contains(segment.GetProperty("floodList").EnumerateArray(), e => e.GetProperty("vtep").GetString() == "10.99.0.7");

        var entry = await PutAsync($"api/segments/{vni}/macs/02:00:00:00:07:01", """{"vtep":"10.99.0.7"}""", HttpStatusCode.OK);
        Assert.True(entry.GetProperty("static").GetBoolean());
        Assert.Equal("10.99.0.7", entry.GetProperty("vtep").GetString());

        using (var leave = await Http.DeleteAsync($"api/segments/{vni}/vteps/10.99.0.7"))
        {
            Assert.Equal(HttpStatusCode.NoContent, leave.StatusCode);
        }

        segment = await Http.GetFromJsonAsync<JsonElement>($"api/segments/{vni}");
        Assert.DoesNotContain(segment.GetProperty("floodList").EnumerateArray(), e => e.GetProperty("vtep").GetString() == "10.99.0.7");
    }

    [Theory]
    [InlineData("not-an-ip")]
    [InlineData("127.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("fe80::1")]
    public async Task A_bad_external_vtep_address_gets_400_naming_the_field(string address)
    {
        var problem = await PutAsync($"api/segments/{NextVni()}/vteps/{Uri.EscapeDataString(address)}", "{}", HttpStatusCode.BadRequest);
        Assert.Equal("vtep", problem.GetProperty("field").GetString());
    }

    [Fact]
    public async Task A_port_group_forwards_the_reserved_group_addresses_it_opts_in_for_and_none_by_default()
    {
        string name = await NewSwitchAsync();
        long vni = NextVni();
        var plain = await PutAsync($"api/switches/{name}/portgroups/plain", $$"""{"vni":{{vni}}}""", HttpStatusCode.OK);
        Assert.Empty(plain.GetProperty("forwardReservedGroups").EnumerateArray());

        var lldp = await PutAsync($"api/switches/{name}/portgroups/plain", $$"""{"vni":{{vni}},"forwardReservedGroups":["01:80:C2:00:00:0E","01:80:c2:00:00:00"]}""", HttpStatusCode.OK);
        Assert.Equal(["01:80:c2:00:00:00", "01:80:c2:00:00:0e"], lldp.GetProperty("forwardReservedGroups").EnumerateArray().Select(e => e.GetString()));
        Assert.True((await Http.GetFromJsonAsync<JsonElement>($"api/switches/{name}")).GetProperty("version").GetInt64() > 0);
    }

    /// <summary>Issue 9, case 2: deleting a port group ends its segment; its VNI used again starts empty.</summary>
    [Fact]
    public async Task A_reused_vni_does_not_inherit_the_deleted_segments_external_vteps_or_macs()
    {
        string first = await NewSwitchAsync();
        long vni = NextVni();
        await PutAsync($"api/switches/{first}/portgroups/tmp", $$"""{"vni":{{vni}}}""", HttpStatusCode.OK);
        await PutAsync($"api/segments/{vni}/vteps/10.77.0.9", "{}", HttpStatusCode.OK);
        await PutAsync($"api/segments/{vni}/macs/02:00:00:00:66:01", """{"vtep":"10.77.0.9"}""", HttpStatusCode.OK);
        var old = await Http.GetFromJsonAsync<JsonElement>($"api/segments/{vni}");
        using (var deleted = await Http.DeleteAsync($"api/switches/{first}/portgroups/tmp"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        string second = await NewSwitchAsync();
        await PutAsync($"api/switches/{second}/portgroups/fresh", $$"""{"vni":{{vni}}}""", HttpStatusCode.OK);

        var segment = await Http.GetFromJsonAsync<JsonElement>($"api/segments/{vni}");
        Assert.Equal((second, "fresh"), (segment.GetProperty("switch").GetString(), segment.GetProperty("portGroup").GetString()));
        Assert.Empty(segment.GetProperty("floodList").EnumerateArray());
        Assert.NotEqual(old.GetProperty("epoch").GetString(), segment.GetProperty("epoch").GetString());
        var macs = await Http.GetFromJsonAsync<JsonElement>($"api/segments/{vni}/macs");
        Assert.Empty(macs.GetProperty("entries").EnumerateArray());
        Assert.Empty(macs.GetProperty("ipBindings").EnumerateArray());
    }

    [Fact]
    public async Task Removing_an_ip_binding_that_does_not_exist_is_404_and_a_bad_address_is_400()
    {
        long vni = NextVni();
        using (var missing = await Http.DeleteAsync($"api/segments/{vni}/ips/192.168.100.50"))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        using var bad = await Http.DeleteAsync($"api/segments/{vni}/ips/not-an-ip");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("ip", (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
    }

    [Fact]
    public async Task Host_list_is_a_json_array()
    {
        var hosts = await Http.GetFromJsonAsync<JsonElement>("api/hosts");
        Assert.Equal(JsonValueKind.Array, hosts.ValueKind);
    }

    private async Task<string> NewSwitchAsync()
    {
        string name = UniqueName("sw");
        await PutAsync($"api/switches/{name}", """{"mtu":1450}""", HttpStatusCode.OK);
        return name;
    }

    private async Task<long> SwitchVersionAsync(string name)
        => (await Http.GetFromJsonAsync<JsonElement>($"api/switches/{name}")).GetProperty("version").GetInt64();

    private async Task<JsonElement> PutAsync(string path, string json, HttpStatusCode expected)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await Http.PutAsync(path, content);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"PUT {path} {json} → {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
