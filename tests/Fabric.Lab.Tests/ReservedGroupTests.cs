using System.Net;
using System.Text.Json;
using static Fabric.Testing.EthernetFrames;

namespace Fabric.Lab.Tests;

/// <summary>
/// Issue 9, case 6: frames to the IEEE 802.1Q reserved group addresses 01-80-C2-00-00-00..0F
/// (§8.6.3, Table 8-1) are link-local and never forwarded, unless a port group opts in per address
/// (PAUSE never).
/// </summary>
[Collection(L2RulesCollection.Name)]
[Trait("Category", "Lab")]
public sealed class ReservedGroupTests(L2RulesFixture lab)
{
    private const long Web = L2RulesFixture.WebVni;
    private const string ReservedDrops = "drop.ReservedGroupAddress";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <summary>The five protocols, by destination: STP BPDU (LLC), PAUSE, LACP, EAPOL, LLDP.</summary>
    private static readonly (string Name, string Destination, Func<string, byte[]> Frame)[] Protocols =
    [
        ("STP", "01:80:c2:00:00:00", StpBpdu),
        ("PAUSE", "01:80:c2:00:00:01", src => Ethernet("01:80:c2:00:00:01", src, 0x8808, [0x00, 0x01, 0xFF, 0xFF])),
        ("LACP", "01:80:c2:00:00:02", src => Ethernet("01:80:c2:00:00:02", src, 0x8809, [0x01, 0x01, 0x01, 0x14])),
        ("EAPOL", "01:80:c2:00:00:03", src => Ethernet("01:80:c2:00:00:03", src, 0x888E, [0x02, 0x01, 0x00, 0x00])),
        ("LLDP", "01:80:c2:00:00:0e", src => Ethernet("01:80:c2:00:00:0e", src, 0x88CC, [0x02, 0x07, 0x04, .. Mac(src), 0x04, 0x02, 0x07, 0x31, 0x06, 0x02, 0x00, 0x78, 0x00, 0x00])),
    ];

    [Fact]
    public async Task Frames_to_reserved_group_addresses_reach_no_vm_and_are_counted_while_a_broadcast_does()
    {
        string source = lab.VmMac(1, 1);
        string control = Control(source);
        var patterns = Protocols.Select(p => RawFrames.Pattern(0, Mac(p.Destination))).Append(control).ToArray();
        long before = Drops(await lab.Status(1).ReadFreshAsync());

        // h2-vm1 and h3-vm1 (web, remote), h1-vm3 (web, local) and h1-vm2 (db, local) watch.
        (int Host, int Vm)[] watchers = [(2, 1), (1, 3), (3, 1), (1, 2)];
        var counters = new List<RawFrames.Counter>();
        try
        {
            foreach (var (host, vm) in watchers)
            {
                counters.Add(await lab.CountAsync(host, vm, patterns));
            }

            await SendEachFiveTimesAndControlAsync(source);
            for (int i = 0; i < 3; i++)
            {
                await counters[i].WaitForFirstAsync(control, Bound);
            }

            var received = new List<string>();
            var controls = new List<string>();
            for (int i = 0; i < watchers.Length; i++)
            {
                var counts = await counters[i].StopAsync();
                string who = $"h{watchers[i].Host}-vm{watchers[i].Vm}";
                received.AddRange(Protocols.Zip(patterns).Where(p => counts[p.Second] != 0).Select(p => $"{who}: {counts[p.Second]} {p.First.Name}"));
                if (counts[control] != (watchers[i].Vm == 2 ? 0 : 1))
                {
                    controls.Add($"{who}: {counts[control]} control broadcasts");
                }
            }

            Assert.True(received.Count == 0, $"frames to reserved group addresses arrived (5 of each sent): {string.Join("; ", received)}");
            Assert.True(controls.Count == 0, $"the control broadcast went astray (1 sent, web VMs only): {string.Join("; ", controls)}");
        }
        finally
        {
            foreach (var counter in counters)
            {
                await counter.DisposeAsync();
            }
        }

        await Eventually.WaitAsync(async () => Drops(await lab.Status(1).ReadAsync()) - before >= 25, Bound, $"h1 counts 25 {ReservedDrops} on vm1");
        Assert.Equal(25, Drops(await lab.Status(1).ReadFreshAsync()) - before);
    }

    [Fact]
    public async Task A_port_group_that_opts_in_for_lldp_forwards_lldp_and_still_no_other_reserved_group_address()
    {
        string source = lab.VmMac(1, 1);
        string control = Control(source);
        var patterns = Protocols.Select(p => RawFrames.Pattern(0, Mac(p.Destination))).Append(control).ToArray();
        try
        {
            await lab.SetPortGroupAsync("web", $$"""{"vni":{{Web}},"forwardReservedGroups":["01:80:c2:00:00:0e"]}""");
            await using var counter = await lab.CountAsync(2, 1, patterns);
            await SendEachFiveTimesAndControlAsync(source);
            await counter.WaitForFirstAsync(control, Bound);
            var counts = await counter.StopAsync();
            var received = Protocols.Zip(patterns).ToDictionary(p => p.First.Name, p => counts[p.Second]);
            string figures = string.Join(", ", received.Select(r => $"{r.Value} {r.Key}"));
            Assert.True(received.All(r => r.Value == (r.Key == "LLDP" ? 5 : 0)), $"with LLDP opted in, h2-vm1 received (5 of each sent): {figures}");
        }
        finally
        {
            await lab.SetPortGroupAsync("web", L2RulesFixture.WebBody);
        }
    }

    [Fact]
    public async Task Opting_in_for_pause_frames_is_refused_naming_forwardReservedGroups()
    {
        var response = await lab.Fabric.Api.SendAsync(HttpMethod.Put, $"api/switches/{FabricDeployment.Switch}/portgroups/web", $$"""{"vni":{{Web}},"forwardReservedGroups":["01:80:c2:00:00:01"]}""");
        try
        {
            Assert.True(response.Status == HttpStatusCode.BadRequest, $"PUT web opting in for PAUSE: {(int)response.Status} {response.Body}");
            Assert.Equal("application/problem+json", response.ContentType);
            Assert.Equal("forwardReservedGroups", JsonDocument.Parse(response.Body).RootElement.GetProperty("field").GetString());
        }
        finally
        {
            if ((int)response.Status is >= 200 and < 300)
            {
                await lab.SetPortGroupAsync("web", L2RulesFixture.WebBody);
            }
        }
    }

    /// <summary>A broadcast from <paramref name="source"/> with the experimental EtherType: it must arrive.</summary>
    private static string Control(string source) => RawFrames.Pattern(0, Mac(Broadcast), Mac(source), [0x88, 0xB5]);

    private static long Drops(AgentStatus status) => status.Port("vm1").Counters.GetValueOrDefault(ReservedDrops);

    /// <summary>h1-vm1 sends 5 frames of each protocol, then the control broadcast (which arrives after them where they arrive at all).</summary>
    private Task SendEachFiveTimesAndControlAsync(string source) => lab.SendAsync(
        1,
        1,
        [.. Protocols.SelectMany(p => Enumerable.Repeat(p.Frame(source), 5)), Ethernet(Broadcast, source, Experimental, "control"u8)]);
}
