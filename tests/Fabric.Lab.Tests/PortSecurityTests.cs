using static Fabric.Testing.EthernetFrames;

namespace Fabric.Lab.Tests;

/// <summary>
/// Issue 9, case 5: port security on the wire, as a vSphere Distributed Switch enforces it: forged
/// transmits rejected by default (a port forwards only its effective MAC: the one configured, or
/// the first learned there), and a promiscuous port group's ports get copies of unicast.
/// </summary>
[Collection(L2RulesCollection.Name)]
[Trait("Category", "Lab")]
public sealed class PortSecurityTests(L2RulesFixture lab)
{
    private const long Web = L2RulesFixture.WebVni;
    private const string ForgedDrops = "drop.ForgedTransmit";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Frames_with_a_forged_source_mac_never_leave_the_host_and_are_counted_while_the_vms_own_frames_flow()
    {
        string own = lab.VmMac(1, 1);

        // h1-vm1 has talked, so its own MAC is its port's effective MAC (the first learned there).
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 1 -W 2 {lab.VmIp(2, 1)}");
        await Eventually.WaitAsync(async () => (await lab.Status(1).ReadAsync()).HoldsLocalMac(own), Bound, $"h1 holds {own}");

        // RawFrames' "spoof" frames: broadcasts from 02:5f:00:00:xx:xx, one MAC each.
        string spoofed = RawFrames.Pattern(6, [0x02, 0x5F, 0x00, 0x00]);
        string genuine = RawFrames.Pattern(0, Mac(Broadcast), Mac(own), [0x88, 0xB5]);
        long before = Drops(await lab.Status(1).ReadFreshAsync());
        await using var counter = await lab.CountAsync(2, 1, spoofed, genuine);
        int sent = await RawFrames.SendAsync(lab.StatusDir, lab.VmNamespace(1, 1), "spoof", 50);
        await lab.SendAsync(1, 1, [.. Enumerable.Range(0, 5).Select(_ => Ethernet(Broadcast, own, Experimental, "genuine"u8))]);
        await counter.WaitForFirstAsync(genuine, Bound);
        var counts = await counter.StopAsync();

        Assert.True(counts[spoofed] == 0, $"h2-vm1 received {counts[spoofed]} of {sent} frames with forged source MACs");
        Assert.Equal(5, counts[genuine]);
        await Eventually.WaitAsync(async () => Drops(await lab.Status(1).ReadAsync()) - before >= sent, Bound, $"h1 counts {sent} {ForgedDrops} on vm1");
        Assert.Equal(sent, Drops(await lab.Status(1).ReadFreshAsync()) - before);

        static long Drops(AgentStatus status) => status.Port("vm1").Counters.GetValueOrDefault(ForgedDrops);
    }

    [Fact]
    public async Task A_port_with_a_configured_mac_forwards_only_frames_from_that_mac()
    {
        // h1's port "pm" is configured with ConfiguredMac; the frames come from its peer "pm-vm" in
        // h1's namespace, another source first (on a port without a configured MAC it would become
        // the effective MAC), then the configured one, then the other again.
        const string port = L2RulesFixture.ConfiguredPort;
        const string configured = L2RulesFixture.ConfiguredMac;
        const string other = "02:5d:00:00:00:01";
        string fromOther = RawFrames.FromMac(other);
        string fromConfigured = RawFrames.Pattern(6, Mac(configured), [0x88, 0xB5]);
        string last = RawFrames.Pattern(6, Mac(configured), [0x88, 0xB6]);
        await Shell.CheckedAsync(lab.HostNamespace(1), $"ip link set {port}-vm up");
        try
        {
            long before = Drops(await lab.Status(1).ReadFreshAsync());
            await using var counter = await lab.CountAsync(2, 1, fromOther, fromConfigured, last);
            byte[] Frame(string source) => Ethernet(Broadcast, source, Experimental, "configured-mac"u8);
            await RawFrames.SendFramesAsync(lab.StatusDir, lab.HostNamespace(1), $"{port}-vm",
            [
                .. Enumerable.Repeat(Frame(other), 5),
                .. Enumerable.Repeat(Frame(configured), 5),
                .. Enumerable.Repeat(Frame(other), 5),
                Ethernet(Broadcast, configured, Experimental + 1, "last"u8),
            ]);
            await counter.WaitForFirstAsync(last, Bound);
            var counts = await counter.StopAsync();

            Assert.True(counts[fromOther] == 0, $"h2-vm1 received {counts[fromOther]} frames from {other} through a port configured for {configured}");
            Assert.Equal(5, counts[fromConfigured]);
            await Eventually.WaitAsync(async () => Drops(await lab.Status(1).ReadAsync()) - before >= 10, Bound, $"h1 counts 10 {ForgedDrops} on {port}");
        }
        finally
        {
            await Shell.InNamespaceAsync(lab.HostNamespace(1), $"ip link set {port}-vm down");
        }

        static long Drops(AgentStatus status) => status.Port(port).Counters.GetValueOrDefault(ForgedDrops);
    }

    [Fact]
    public async Task A_vm_receives_copies_of_unicast_between_other_vms_only_while_its_port_group_allows_promiscuous_mode()
    {
        string a = lab.VmMac(1, 1), b = lab.VmMac(2, 1);
        string aToB = RawFrames.Between(b, a), bToA = RawFrames.Between(a, b);
        try
        {
            // Off (the default): h1-vm3, in the same segment and host as h1-vm1, sees none of it.
            var off = await WatchUnicastAsync();
            Assert.True(off[aToB] == 0 && off[bToA] == 0, $"with promiscuous mode off h1-vm3 received {off[aToB]} frames h1-vm1 → h2-vm1 and {off[bToA]} back");

            // On: a copy of every one, both ways.
            await lab.SetPortGroupAsync("web", $$$"""{"vni":{{{Web}}},"security":{"allowPromiscuous":true}}""");
            var on = await WatchUnicastAsync();
            Assert.True(on[aToB] >= 5 && on[bToA] >= 5, $"with promiscuous mode on h1-vm3 received {on[aToB]} frames h1-vm1 → h2-vm1 and {on[bToA]} back (5 pings)");
        }
        finally
        {
            await lab.SetPortGroupAsync("web", L2RulesFixture.WebBody);
        }

        async Task<Dictionary<string, int>> WatchUnicastAsync()
        {
            // Both MACs known where they are needed, so the pings are unicast and never flooded.
            await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 1 -W 2 {lab.VmIp(2, 1)}");
            await Eventually.WaitAsync(
                async () => (await lab.Status(1).ReadAsync()).RemoteMac(Web, b) == lab.UnderlayIp(2) && (await lab.Status(2).ReadAsync()).RemoteMac(Web, a) == lab.UnderlayIp(1),
                Bound,
                "h1 and h2 know each other's VM behind the other's VTEP");
            await using var counter = await lab.CountAsync(1, 3, aToB, bToA);
            await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 5 -i 0.2 -W 2 {lab.VmIp(2, 1)}");
            return await counter.StopAsync();
        }
    }
}
