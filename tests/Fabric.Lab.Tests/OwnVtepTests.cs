using System.Net;
using System.Text.Json;
using static Fabric.Testing.EthernetFrames;

namespace Fabric.Lab.Tests;

/// <summary>
/// Issue 9, case 3: no external VTEP at a fabric host's own address, and an agent never sends VXLAN
/// to its own VTEP address nor accepts it from there (a loop would echo a VM's broadcasts back to it).
/// </summary>
[Collection(L2RulesCollection.Name)]
[Trait("Category", "Lab")]
public sealed class OwnVtepTests(L2RulesFixture lab)
{
    private const long Web = L2RulesFixture.WebVni;

    [Fact]
    public async Task A_vtep_at_a_fabric_hosts_own_address_is_refused_naming_the_host()
    {
        string h2 = lab.UnderlayIp(2);
        var response = await lab.Fabric.Api.SendAsync(HttpMethod.Put, $"api/segments/{Web}/vteps/{h2}", "{}");
        try
        {
            Assert.True(response.Status == HttpStatusCode.BadRequest, $"PUT a VTEP at h2's address {h2}: {(int)response.Status} {response.Body}");
            Assert.Equal("application/problem+json", response.ContentType);
            var problem = JsonDocument.Parse(response.Body).RootElement;
            Assert.Equal("address", problem.GetProperty("field").GetString());
            Assert.Contains("h2", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.True(await lab.Fabric.FloodListsHoldAsync(new Dictionary<long, int[]> { [Web] = [1, 2, 3] }), $"the flood list changed: {string.Join(", ", await lab.FloodListAsync(Web))}");
        }
        finally
        {
            await RemoveIfAcceptedAsync(response, h2);
        }
    }

    [Fact]
    public async Task An_agent_never_sends_vxlan_to_its_own_address_nor_accepts_it_from_there()
    {
        string h2 = lab.UnderlayIp(2), own = lab.VmMac(2, 1), forged = "02:ee:00:00:be:ef";
        const string nobody = "192.168.100.250";

        // Registered anyway if the API lets it through: the agent must hold on its own.
        var put = await lab.Fabric.Api.SendAsync(HttpMethod.Put, $"api/segments/{Web}/vteps/{h2}", "{}");
        try
        {
            string echo = RawFrames.FromMac(own);
            string looped = RawFrames.FromMac(forged);
            string barrier = RawFrames.Pattern(0, Mac(Broadcast), Mac(lab.VmMac(1, 1)), [0x88, 0xB5]);
            await using var counter = await lab.CountAsync(2, 1, echo, looped, barrier);
            long before = (await lab.Status(2).ReadFreshAsync()).Vtep.GetValueOrDefault("drop.FromOwnVtep");
            await using var capture = await Underlay.CaptureAsync(lab, "own-vtep");

            // h2-vm1 broadcasts ARP requests (flooded to the other VTEPs); a VXLAN datagram from h2's
            // own address reaches h2's VTEP (through h2's loopback) carrying a broadcast in web.
            await lab.SendAsync(2, 1, [.. Enumerable.Repeat(ArpRequest(own, lab.VmIp(2, 1), nobody), 3)]);
            await RawFrames.SendUdpAsync(lab.StatusDir, lab.HostNamespace(2), h2, 4789, Vxlan(Web, Ethernet(Broadcast, forged, Experimental, "looped"u8)), count: 3);

            // Then a broadcast from h1-vm1: once h2-vm1 has it, anything sent before it has arrived.
            await lab.SendAsync(1, 1, Ethernet(Broadcast, lab.VmMac(1, 1), Experimental, "barrier"u8));
            await counter.WaitForFirstAsync(barrier, TimeSpan.FromSeconds(10));
            await capture.StopAsync();
            var counts = await counter.StopAsync();
            var datagrams = await Underlay.ReadAsync(capture);

            Assert.True(counts[echo] == 0, $"h2-vm1 received {counts[echo]} of its own frames back");
            Assert.True(counts[looped] == 0, $"h2-vm1 received {counts[looped]} frames of VXLAN datagrams from h2's own address");
            Assert.DoesNotContain(datagrams, d => d.Source == h2 && d.Destination == h2);
            foreach (int other in new[] { 1, 3 })
            {
                Assert.True(
                    datagrams.Count(d => d.Source == h2 && d.Destination == lab.UnderlayIp(other) && d.IsArpRequestFor(nobody)) == 3,
                    $"h2-vm1's 3 ARP requests were not flooded to h{other} once each:\n{Underlay.Describe(datagrams)}");
            }

            await Eventually.WaitAsync(
                async () => (await lab.Status(2).ReadAsync()).Vtep.GetValueOrDefault("drop.FromOwnVtep") >= before + 3,
                TimeSpan.FromSeconds(10),
                "h2's agent counts the 3 datagrams from its own address as drop.FromOwnVtep");
        }
        finally
        {
            await RemoveIfAcceptedAsync(put, h2);
        }
    }

    private async Task RemoveIfAcceptedAsync(ApiResponse put, string address)
    {
        if ((int)put.Status is >= 200 and < 300)
        {
            await lab.Fabric.Api.SendAsync(HttpMethod.Delete, $"api/segments/{Web}/vteps/{address}");
        }
    }
}
