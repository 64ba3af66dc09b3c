using System.Diagnostics;
using System.Globalization;

namespace Fabric.Page.Tests;

/// <summary>The fabric page of a running fabric (namespace lab, agents, traffic), in a real browser.</summary>
[Collection(LabPageCollection.Name)]
[Trait("Category", "Ops")]
public sealed class FabricPageLabTests(LabPageFixture lab, ITestOutputHelper output)
{
    /// <summary>Two polls of the page (2 s each) and a margin for a loaded machine.</summary>
    private static readonly TimeSpan PageRefreshBound = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A killed agent's host is declared dead after the silo's <c>Fabric:HostLiveness:DeadAfter</c>
    /// (15 s) plus at most one check interval (a quarter of it); the page shows it at its next poll.
    /// </summary>
    private static readonly TimeSpan DeadHostBound = TimeSpan.FromSeconds(15 + 15 / 4.0) + PageRefreshBound;

    private FabricDeployment Fabric => lab.Fabric;

    [Fact]
    public async Task The_page_shows_hosts_flood_lists_learned_macs_bindings_and_port_counters_after_traffic()
    {
        for (int host = 1; host <= LabPageFixture.Hosts; host++)
        {
            await lab.EnsureAgentRunsAsync(host);
        }

        await PingAsync(1, 1, 2);   // web: h1-vm1 → h2-vm1
        await PingAsync(3, 2, 1);   // db: h3-vm2 → h1-vm2

        await using var tab = await lab.Browser.NewTabAsync();
        await tab.GoToAsync(new Uri(lab.BaseAddress, "fabric"));

        // Hosts: alive, with their VTEPs, having applied the switch's generation.
        for (int host = 1; host <= LabPageFixture.Hosts; host++)
        {
            string row = $"document.querySelector('#hosts tr[data-host=\"h{host}\"]')";
            await tab.WaitUntilAsync($"{row}.innerText.includes('alive') && {row}.innerText.includes('applied')", PageRefreshBound, $"host h{host} alive and applied");
            Assert.Contains(Fabric.Lab.UnderlayIp(host), await tab.TextAsync(row), StringComparison.Ordinal);
        }

        // Segments: every host's VTEP in the flood list of each.
        foreach (long vni in new[] { LabPageFixture.WebVni, LabPageFixture.DbVni })
        {
            string flood = await tab.TextAsync($"document.querySelector('#segments tr[data-vni=\"{vni}\"] .floodlist')");
            for (int host = 1; host <= LabPageFixture.Hosts; host++)
            {
                Assert.Contains($"h{host} {Fabric.Lab.UnderlayIp(host)}", flood, StringComparison.Ordinal);
            }
        }

        // FDB: the MACs that talked, where they are, and the addresses they claimed in ARP.
        string web = $"document.querySelector('#fdb details[data-vni=\"{LabPageFixture.WebVni}\"]')";
        await tab.WaitUntilAsync(
            $"{web}.querySelector('tr[data-mac=\"{Fabric.Lab.VmMac(1, 1)}\"]') && {web}.querySelector('tr[data-mac=\"{Fabric.Lab.VmMac(2, 1)}\"]')"
            + $" && {web}.querySelector('tr[data-ip=\"{Fabric.Lab.VmIp(1, 1)}\"]')",
            PageRefreshBound, "the web VMs' MACs and bindings in the FDB");
        string mac = await tab.TextAsync($"{web}.querySelector('tr[data-mac=\"{Fabric.Lab.VmMac(2, 1)}\"]')");
        Assert.Contains("h2", mac, StringComparison.Ordinal);
        Assert.Contains(Fabric.Lab.UnderlayIp(2), mac, StringComparison.Ordinal);
        Assert.Contains("vm1", mac, StringComparison.Ordinal);
        Assert.Contains(Fabric.Lab.VmMac(1, 1), await tab.TextAsync($"{web}.querySelector('tr[data-ip=\"{Fabric.Lab.VmIp(1, 1)}\"]')"), StringComparison.Ordinal);

        // Counters: the pinging ports received frames (3 echo requests and an ARP at least).
        await tab.WaitUntilAsync(
            "Number(document.querySelector('#ports [data-host=\"h1\"] tr[data-port=\"vm1\"] td[data-counter=\"received\"]').innerText.replace(/,/g, '')) >= 3"
            + " && Number(document.querySelector('#ports [data-host=\"h3\"] tr[data-port=\"vm2\"] td[data-counter=\"received\"]').innerText.replace(/,/g, '')) >= 3",
            PageRefreshBound, "the pinging ports' received counters");
        long delivered = long.Parse(
            (await tab.TextAsync("document.querySelector('#ports [data-host=\"h2\"] tr[data-port=\"vm1\"] td[data-counter=\"delivered\"]')")).Replace(",", string.Empty, StringComparison.Ordinal),
            CultureInfo.InvariantCulture);
        Assert.True(delivered >= 3, $"h2's vm1 delivered {delivered} frames; it answered 3 pings");
        Assert.Contains("No alarms", await tab.TextAsync("document.getElementById('alarms')"), StringComparison.Ordinal);

        string shot = Screenshots.Path(nameof(The_page_shows_hosts_flood_lists_learned_macs_bindings_and_port_counters_after_traffic));
        await tab.ScreenshotAsync(shot);
        output.WriteLine($"screenshot: {shot}");
        Assert.Empty(tab.RequestsOffLoopback);
    }

    [Fact]
    public async Task A_killed_agent_turns_its_host_dead_on_the_open_page_and_raises_an_alarm()
    {
        const int victim = 3;
        for (int host = 1; host <= LabPageFixture.Hosts; host++)
        {
            await lab.EnsureAgentRunsAsync(host);
        }

        await PingAsync(1, 1, 2);
        await using var tab = await lab.Browser.NewTabAsync();
        await tab.GoToAsync(new Uri(lab.BaseAddress, "fabric"));
        string row = $"document.querySelector('#hosts tr[data-host=\"h{victim}\"]')";
        await tab.WaitUntilAsync($"{row}.innerText.includes('alive')", PageRefreshBound, $"host h{victim} alive");
        try
        {
            Fabric.KillAgent(victim);
            var dead = Stopwatch.StartNew();
            await tab.WaitUntilAsync(
                $"{row}.querySelector('.host-state').innerText.trim() === 'dead' && document.querySelector('#alarms li[data-kind=\"hostDead\"][data-subject=\"h{victim}\"]')",
                DeadHostBound, $"host h{victim} dead with an alarm");
            output.WriteLine($"h{victim} shown dead with an alarm {dead.Elapsed.TotalSeconds:0.0} s after its agent was killed (bound {DeadHostBound.TotalSeconds:0} s)");

            string alarm = await tab.TextAsync($"document.querySelector('#alarms li[data-kind=\"hostDead\"][data-subject=\"h{victim}\"]')");
            Assert.Contains("Host dead", alarm, StringComparison.Ordinal);
            Assert.Contains($"Host h{victim}", alarm, StringComparison.Ordinal);

            // It left the flood lists, and the page says why it has no counters.
            await tab.WaitUntilAsync(
                $"!document.querySelector('#segments tr[data-vni=\"{LabPageFixture.WebVni}\"] .floodlist').innerText.includes('{Fabric.Lab.UnderlayIp(victim)}')",
                PageRefreshBound, $"h{victim}'s VTEP gone from the web flood list");
            Assert.Contains("Dead", await tab.TextAsync($"document.querySelector('#ports [data-host=\"h{victim}\"]')"), StringComparison.Ordinal);
            Assert.Contains("1", await tab.TextAsync("document.querySelector('[data-tile=\"alarms\"] b')"), StringComparison.Ordinal);

            string shot = Screenshots.Path(nameof(A_killed_agent_turns_its_host_dead_on_the_open_page_and_raises_an_alarm));
            await tab.ScreenshotAsync(shot);
            output.WriteLine($"screenshot: {shot}");
            if (Screenshots.UpdateDocs)
            {
                await tab.ScreenshotAsync(Screenshots.DocsPath("fabric-page"));
                output.WriteLine($"README picture: {Screenshots.DocsPath("fabric-page")}");
            }

            // Back: the host turns alive again and the alarm clears.
            await lab.EnsureAgentRunsAsync(victim);
            await tab.WaitUntilAsync(
                $"{row}.querySelector('.host-state').innerText.trim() === 'alive' && !document.querySelector('#alarms li[data-kind=\"hostDead\"]')",
                PageRefreshBound, $"host h{victim} alive again and no alarm");
        }
        finally
        {
            await lab.EnsureAgentRunsAsync(victim);
        }
    }

    private async Task PingAsync(int fromHost, int vm, int toHost)
        => await Shell.CheckedAsync(Fabric.Lab.VmNamespace(fromHost, vm), $"ping -c 3 -i 0.2 -W 2 {Fabric.Lab.VmIp(toHost, vm)}", TimeSpan.FromSeconds(20));
}
