using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Fabric.Lab.Tests;

/// <summary>
/// The operator's view of a host through the silo (issue 13): the agent's status relayed, a frame
/// traced through the host's pipeline and held against what the wire shows, and a port mirrored to
/// a pcap that tshark reads.
/// </summary>
[Collection(UnderlayCollection.Name)]
[Trait("Category", "Ops")]
public sealed class OperatorTests(UnderlayFixture lab)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private async Task<JsonElement> TraceAsync(int host, object body, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await lab.Http.PostAsJsonAsync($"/api/hosts/h{host}/trace", body, Json);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"trace: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement;
    }

    [Fact]
    public async Task A_hosts_status_is_relayed_by_the_silo_from_its_agents_endpoint()
    {
        var host = JsonDocument.Parse(await lab.Http.GetStringAsync("/api/hosts/h1")).RootElement;
        Assert.StartsWith("http://127.0.0.1:", host.GetProperty("managementUrl").GetString());

        var status = JsonDocument.Parse(await lab.Http.GetStringAsync("/api/hosts/h1/status")).RootElement;
        Assert.Equal("h1", status.GetProperty("hostId").GetString());
        Assert.Contains(status.GetProperty("ports").EnumerateArray(), p => p.GetProperty("name").GetString() == "vm1");

        using var unknown = await lab.Http.GetAsync("/api/hosts/nosuchhost/status");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task A_traced_unicast_names_the_vtep_and_vni_that_the_real_frame_then_takes_on_the_wire()
    {
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 2 -i 0.2 -W 3 {lab.VmIp(2, 1)}");
        await Eventually.WaitAsync(
            async () => await lab.RemoteMacAsync(1, UnderlayFixture.WebVni, lab.VmMac(2, 1)) == lab.UnderlayIp(2),
            TimeSpan.FromSeconds(15), "h1 knows h2-vm1 through the cluster");

        var trace = await TraceAsync(1, new
        {
            port = "vm1",
            frame = new { srcMac = lab.VmMac(1, 1), dstMac = lab.VmMac(2, 1), ipv4 = new { src = lab.VmIp(1, 1), dst = lab.VmIp(2, 1), protocol = "icmp" } },
        });
        Assert.Equal("forwarded", trace.GetProperty("result").GetString());
        Assert.Equal(UnderlayFixture.WebVni, trace.GetProperty("vni").GetInt64());
        var output = Assert.Single(trace.GetProperty("outputs").EnumerateArray());
        Assert.Equal(("vtep", lab.UnderlayIp(2), UnderlayFixture.WebVni), (output.GetProperty("kind").GetString(), output.GetProperty("vtep").GetString(), output.GetProperty("vni").GetInt64()));

        await using var capture = await Underlay.CaptureAsync(lab, "trace-unicast");
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 1 -W 3 {lab.VmIp(2, 1)}");
        await capture.StopAsync();
        var requests = (await Underlay.ReadAsync(capture)).Where(d => d.IsIcmp && d.InnerSourceMac == lab.VmMac(1, 1)).ToList();
        Assert.True(requests.Count > 0, "no ICMP of h1-vm1 on the underlay");
        Assert.All(requests, d => Assert.Equal((lab.UnderlayIp(2), UnderlayFixture.WebVni), (d.Destination, d.Vni)));
    }

    [Fact]
    public async Task A_traced_broadcast_lists_the_flood_list_the_real_broadcast_is_replicated_to()
    {
        string target = $"{string.Join('.', lab.VmIp(2, 2).Split('.')[..3])}.{Random.Shared.Next(150, 250)}";
        var trace = await TraceAsync(1, new
        {
            port = "vm2",
            frame = new { srcMac = lab.VmMac(1, 2), dstMac = "ff:ff:ff:ff:ff:ff", arp = new { op = "request", senderIp = lab.VmIp(1, 2), targetIp = target } },
        });
        Assert.Equal(UnderlayFixture.DbVni, trace.GetProperty("vni").GetInt64());
        var tracedVteps = trace.GetProperty("outputs").EnumerateArray().Where(o => o.GetProperty("kind").GetString() == "vtep").Select(o => o.GetProperty("vtep").GetString()!).Order().ToList();
        Assert.Contains(trace.GetProperty("steps").EnumerateArray(), s => s.GetProperty("stage").GetString() == "lookup" && s.GetProperty("verdict").GetString() == "flood");

        await using var capture = await Underlay.CaptureAsync(lab, "trace-flood");
        await Shell.InNamespaceAsync(lab.VmNamespace(1, 2), $"ping -c 1 -W 2 {target}");
        await capture.StopAsync();
        var wire = (await Underlay.ReadAsync(capture)).Where(d => d.InnerSourceMac == lab.VmMac(1, 2) && d.IsArpRequestFor(target)).Select(d => d.Destination).Distinct().Order().ToList();
        Assert.True(wire.Count > 0, "the ARP request never reached the underlay");
        Assert.Equal(wire, tracedVteps);
    }

    [Fact]
    public async Task A_forged_source_is_traced_as_dropped_by_port_security_without_touching_the_hosts_counters()
    {
        // vm1 speaks first, so its MAC is the port's effective MAC (the first learned on it).
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 1 -W 3 {lab.VmIp(2, 1)}");
        long before = (await lab.Status(1).ReadFreshAsync()).Total.GetValueOrDefault("drop.ForgedTransmit");
        var trace = await TraceAsync(1, new { port = "vm1", frame = new { srcMac = "02:aa:bb:cc:dd:ee", dstMac = "ff:ff:ff:ff:ff:ff", etherType = "0x88b5" } });
        Assert.True(trace.GetProperty("drop").GetString() == "ForgedTransmit" && trace.GetProperty("result").GetString() == "dropped", trace.ToString());
        Assert.Equal("portSecurity", trace.GetProperty("steps").EnumerateArray().Last().GetProperty("stage").GetString());
        Assert.Equal(before, (await lab.Status(1).ReadFreshAsync()).Total.GetValueOrDefault("drop.ForgedTransmit"));
    }

    [Fact]
    public async Task A_bad_trace_request_names_the_field_and_an_unknown_port_is_a_404()
    {
        var bad = await TraceAsync(1, new { port = "vm1", frame = new { srcMac = "nope", dstMac = "ff:ff:ff:ff:ff:ff", etherType = "arp" } }, HttpStatusCode.BadRequest);
        Assert.Equal("frame.srcMac", bad.GetProperty("field").GetString());
        var missing = await TraceAsync(1, new { port = "vm9", hex = "ffffffffffff02000000000108060001" }, HttpStatusCode.NotFound);
        Assert.Equal("port", missing.GetProperty("field").GetString());
    }

    [Fact]
    public async Task A_port_mirror_streams_pcap_that_tshark_reads_with_both_directions_of_a_ping()
    {
        string file = Path.Combine(lab.StatusDir, $"mirror-{Guid.NewGuid():N}.pcap");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await lab.Http.GetAsync("/api/hosts/h2/ports/vm1/mirror?direction=both&count=4", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/vnd.tcpdump.pcap", response.Content.Headers.ContentType?.MediaType);
        var copy = Task.Run(async () =>
        {
            await using var source = await response.Content.ReadAsStreamAsync(cts.Token);
            await using var target = File.Create(file);
            await source.CopyToAsync(target, cts.Token);
        }, cts.Token);

        // The mirror is active once the agent started it; ping until four frames came through.
        while (!copy.IsCompleted && !cts.IsCancellationRequested)
        {
            await Shell.InNamespaceAsync(lab.VmNamespace(1, 1), $"ping -c 1 -W 1 {lab.VmIp(2, 1)}");
        }

        await copy;
        var rows = await Pcap.FieldsAsync(file, "icmp", "ip.src", "ip.dst", "icmp.type");
        Assert.Contains(rows, r => r[0] == lab.VmIp(1, 1) && r[1] == lab.VmIp(2, 1) && r[2] == "8");
        Assert.Contains(rows, r => r[0] == lab.VmIp(2, 1) && r[1] == lab.VmIp(1, 1) && r[2] == "0");
    }

    [Theory]
    [InlineData("vxlan")]
    [InlineData("erspan")]
    public async Task A_remote_mirror_session_carries_a_ports_frames_to_the_collector_where_tshark_decodes_them(string encapsulation)
    {
        // The collector is the underlay switch's own address; the capture on its bridge sees what arrives.
        string collector = lab.Env["LAB_CONTROL_IP"];
        string name = $"m-{encapsulation}-{Guid.NewGuid():N}"[..20];
        string body = encapsulation == "vxlan"
            ? $$"""{"host":"h1","port":"vm1","direction":"both","destination":"{{collector}}","encapsulation":"vxlan","vni":9901}"""
            : $$"""{"host":"h1","port":"vm1","direction":"both","destination":"{{collector}}","encapsulation":"erspan","sessionId":77}""";
        await lab.PutAsync($"/api/switches/dvs/mirrors/{name}", body);
        try
        {
            await using var capture = await Underlay.CaptureAnyAsync(lab, $"mirror-{encapsulation}", $"dst host {collector} and (udp port 4789 or ip proto 47)");
            // The session is applied with the switch's next generation: ping until copies arrive.
            await Eventually.WaitAsync(
                async () =>
                {
                    await Shell.InNamespaceAsync(lab.VmNamespace(1, 1), $"ping -c 1 -W 1 {lab.VmIp(2, 1)}");
                    var switchView = JsonDocument.Parse(await lab.Http.GetStringAsync("/api/switches/dvs")).RootElement;
                    return switchView.GetProperty("appliedOnEveryHost").GetBoolean();
                },
                TimeSpan.FromSeconds(20), "every host applied the mirror session");
            await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 2 -i 0.2 -W 2 {lab.VmIp(2, 1)}");
            await capture.StopAsync();

            var rows = await Pcap.FieldsAsync(capture.File, $"ip.dst == {collector} && icmp", "vxlan.vni", "erspan.spanid", "ip.src", "ip.dst", "icmp.type");
            string Key(string[] r) => encapsulation == "vxlan" ? r[0] : r[1];
            string expected = encapsulation == "vxlan" ? "9901" : "77";
            // ip.src and ip.dst hold the outer, then the inner address: from h1's VTEP to the collector, carrying vm1's ping both ways.
            Assert.Contains(rows, r => Key(r) == expected && r[2] == $"{lab.UnderlayIp(1)}|{lab.VmIp(1, 1)}" && r[3] == $"{collector}|{lab.VmIp(2, 1)}" && r[4] == "8");
            Assert.Contains(rows, r => Key(r) == expected && r[2] == $"{lab.UnderlayIp(1)}|{lab.VmIp(2, 1)}" && r[3] == $"{collector}|{lab.VmIp(1, 1)}" && r[4] == "0");
        }
        finally
        {
            using var removed = await lab.Http.DeleteAsync($"/api/switches/dvs/mirrors/{name}");
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        }
    }

    [Fact]
    public async Task A_bad_mirror_session_is_refused_naming_the_field()
    {
        using var response = await lab.Http.PutAsync("/api/switches/dvs/mirrors/bad", new StringContent(
            """{"host":"h1","port":"vm1","destination":"10.0.0.9","encapsulation":"vxlan","vni":5001}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("vni", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("field").GetString());
    }
}
