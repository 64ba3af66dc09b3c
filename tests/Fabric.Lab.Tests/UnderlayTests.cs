using System.Net.Http.Json;
using System.Text.Json;

namespace Fabric.Lab.Tests;

/// <summary>
/// 3 hosts where not every host is in every segment: h1 and h2 bind vm1 → web (VNI 5001) and
/// vm2 → db (VNI 5002); h3 binds only vm1 → web, so db's flood list is {h1, h2}. h1 also has vm3
/// in web (the VM that moves), and h2 a spare port mv1 in web for it to move to.
/// </summary>
public sealed class UnderlayFixture() : LabFabric(DefaultShape)
{
    public const long WebVni = 5001;
    public const long DbVni = 5002;

    public static LabShape DefaultShape { get; } = new()
    {
        Stem = "fu",
        Hosts = 3,
        Vms = 3,
        Groups = 2,
        PortGroups = [new("web", $$"""{"vni":{{WebVni}}}"""), new("db", $$"""{"vni":{{DbVni}}}""")],
        Agents = new Dictionary<int, IReadOnlyList<PortBinding>>
        {
            [1] = [new("vm1", "web"), new("vm2", "db"), new("vm3", "web")],
            [2] = [new("vm1", "web"), new("vm2", "db"), new("mv1", "web")],
            [3] = [new("vm1", "web")],
        },
        FloodLists = new Dictionary<long, int[]> { [WebVni] = [1, 2, 3], [DbVni] = [1, 2] },
        Prepare = lab => lab.LabAsync("port", "--host", "h2", "--name", "mv1", "--quiet"),
    };

    /// <summary>The VNI every VM MAC of this lab belongs to.</summary>
    public IReadOnlyDictionary<string, long> VniOfMac => new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase)
    {
        [VmMac(1, 1)] = WebVni,
        [VmMac(2, 1)] = WebVni,
        [VmMac(3, 1)] = WebVni,
        [VmMac(1, 3)] = WebVni,
        [VmMac(1, 2)] = DbVni,
        [VmMac(2, 2)] = DbVni,
    };
}

[CollectionDefinition(Name)]
public sealed class UnderlayCollection : ICollectionFixture<UnderlayFixture>
{
    public const string Name = "underlay lab";
}

/// <summary>What the agents put on the underlay, judged by a capture on the underlay switch and by tshark.</summary>
[Collection(UnderlayCollection.Name)]
[Trait("Category", "Lab")]
public sealed class UnderlayTests(UnderlayFixture lab)
{
    [Fact]
    public async Task A_first_arp_is_replicated_only_to_the_vteps_of_its_segment()
    {
        // Addresses nobody has announced yet: a request for a known one is answered by the local
        // agent (ARP suppression, tested below) and never reaches the underlay.
        string webTarget = FreshAddress(lab.VmIp(2, 1));
        string dbTarget = FreshAddress(lab.VmIp(2, 2));
        await Shell.CheckedAsync(lab.VmNamespace(2, 1), $"ip addr add {webTarget}/24 dev eth0");
        await Shell.CheckedAsync(lab.VmNamespace(2, 2), $"ip addr add {dbTarget}/24 dev eth0");
        try
        {
            await FirstArpAsync(webTarget, dbTarget);
        }
        finally
        {
            await Shell.InNamespaceAsync(lab.VmNamespace(2, 1), $"ip addr del {webTarget}/24 dev eth0");
            await Shell.InNamespaceAsync(lab.VmNamespace(2, 2), $"ip addr del {dbTarget}/24 dev eth0");
        }
    }

    private async Task FirstArpAsync(string webTarget, string dbTarget)
    {
        await FlushNeighboursAsync((1, 1), (1, 2), (2, 1), (2, 2));
        await using var capture = await Underlay.CaptureAsync(lab, "first-arp");
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 1 -W 3 {webTarget}");
        await Shell.CheckedAsync(lab.VmNamespace(1, 2), $"ping -c 1 -W 3 {dbTarget}");
        await capture.StopAsync();
        var all = await Underlay.ReadAsync(capture);

        // web (VNI 5001) is on h1, h2, h3: h1 replicates to h2 and h3.
        var web = all.Where(d => d.InnerSourceMac == lab.VmMac(1, 1) && d.IsArpRequestFor(webTarget)).ToList();
        Assert.True(web.Count > 0, $"no ARP request of h1-vm1 on the underlay:\n{Underlay.Describe(all)}");
        Assert.All(web, d => Assert.Equal((lab.UnderlayIp(1), UnderlayFixture.WebVni), (d.Source, d.Vni)));
        Assert.Equal([lab.UnderlayIp(2), lab.UnderlayIp(3)], web.Select(d => d.Destination).Distinct().Order());

        // db (VNI 5002) is on h1 and h2 only: nothing of it goes to h3.
        var db = all.Where(d => d.InnerSourceMac == lab.VmMac(1, 2) && d.IsArpRequestFor(dbTarget)).ToList();
        Assert.True(db.Count > 0, $"no ARP request of h1-vm2 on the underlay:\n{Underlay.Describe(all)}");
        Assert.All(db, d => Assert.Equal((lab.UnderlayIp(1), UnderlayFixture.DbVni), (d.Source, d.Vni)));
        Assert.Equal([lab.UnderlayIp(2)], db.Select(d => d.Destination).Distinct());
        Assert.DoesNotContain(all, d => d.Destination == lab.UnderlayIp(3) && d.Vni == UnderlayFixture.DbVni);
    }

    [Fact]
    public async Task After_learning_unicast_goes_only_to_the_vtep_of_the_destination()
    {
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 2 -i 0.2 -W 3 {lab.VmIp(2, 1)}");
        await Eventually.WaitAsync(
            async () => await lab.RemoteMacAsync(1, UnderlayFixture.WebVni, lab.VmMac(2, 1)) == lab.UnderlayIp(2)
                && await lab.RemoteMacAsync(2, UnderlayFixture.WebVni, lab.VmMac(1, 1)) == lab.UnderlayIp(1),
            TimeSpan.FromSeconds(15), "h1 and h2 know each other's vm1 through the cluster");

        await using var capture = await Underlay.CaptureAsync(lab, "unicast");
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 5 -i 0.2 -W 3 {lab.VmIp(2, 1)}");
        await capture.StopAsync();
        var all = await Underlay.ReadAsync(capture);

        var requests = all.Where(d => d.IsIcmp && d.InnerSourceMac == lab.VmMac(1, 1)).ToList();
        var replies = all.Where(d => d.IsIcmp && d.InnerSourceMac == lab.VmMac(2, 1)).ToList();
        Assert.True(requests.Count >= 5 && replies.Count >= 5, $"expected 5 requests and 5 replies:\n{Underlay.Describe(all)}");
        Assert.All(requests, d => Assert.Equal((lab.UnderlayIp(1), lab.UnderlayIp(2), lab.VmMac(2, 1)), (d.Source, d.Destination, d.InnerDestinationMac)));
        Assert.All(replies, d => Assert.Equal((lab.UnderlayIp(2), lab.UnderlayIp(1), lab.VmMac(1, 1)), (d.Source, d.Destination, d.InnerDestinationMac)));
        Assert.DoesNotContain(all, d => d.Destination == lab.UnderlayIp(3));
    }

    [Fact]
    public async Task Every_datagram_decodes_as_vxlan_with_the_vni_of_its_macs_and_nothing_malformed()
    {
        await FlushNeighboursAsync((1, 1), (3, 1), (2, 2), (1, 2));
        await using var wire = await Underlay.WireLikeUplinksAsync(lab);
        await using var capture = await Underlay.CaptureAsync(lab, "decode");
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 3 -i 0.2 -W 3 -s 1400 {lab.VmIp(3, 1)}");
        await Shell.CheckedAsync(lab.VmNamespace(2, 2), $"ping -c 3 -i 0.2 -W 3 {lab.VmIp(1, 2)}");
        await Traffic.TcpAsync(lab.VmNamespace(2, 1), lab.VmNamespace(1, 1), lab.VmIp(1, 1), 5311);
        await capture.StopAsync();
        var all = await Underlay.ReadAsync(capture);
        Assert.True(all.Count >= 20, $"too little captured:\n{Underlay.Describe(all)}");

        var vtepIps = new[] { 1, 2, 3 }.Select(lab.UnderlayIp).ToHashSet();
        var vniOfMac = lab.VniOfMac;
        var wrong = all.Where(d =>
        {
            if (d.Vni is not { } vni || d.DestinationPort != 4789 || !vtepIps.Contains(d.Source) || !vtepIps.Contains(d.Destination)
                || d.SourcePort is < 49152 or > 65535 || !vniOfMac.TryGetValue(d.InnerSourceMac, out long expected))
            {
                return true;
            }

            bool broadcast = d.InnerDestinationMac == "ff:ff:ff:ff:ff:ff";
            return vni != expected || (!broadcast && (!vniOfMac.TryGetValue(d.InnerDestinationMac, out long dst) || dst != vni));
        }).ToList();
        Assert.True(wrong.Count == 0, $"datagrams that are not VXLAN between VTEPs with the VNI of their inner MACs:\n{Underlay.Describe(wrong)}");
        Assert.Contains(all, d => d.Vni == UnderlayFixture.WebVni);
        Assert.Contains(all, d => d.Vni == UnderlayFixture.DbVni);
        Assert.Contains(all, d => d.Protocols.Contains(":tcp", StringComparison.Ordinal));

        var complaints = await Underlay.ComplaintsAsync(capture);
        if (complaints.Count > 0)
        {
            Assert.Fail($"tshark complains about {capture.Keep()}:\n{string.Join('\n', complaints)}");
        }
    }

    [Fact]
    public async Task The_outer_udp_source_port_follows_the_inner_flow()
    {
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 1 -W 3 {lab.VmIp(2, 1)}");
        await using var capture = await Underlay.CaptureAsync(lab, "flows");
        // Eight UDP flows from one socket (fixed source port) to eight destination ports, two datagrams each.
        string send = $"import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('{lab.VmIp(1, 1)}',40000))\n"
            + $"for r in range(2):\n  for p in range(7001,7009):\n    s.sendto(b'flow',('{lab.VmIp(2, 1)}',p))\n";
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"python3 -c \"{send}\"");
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 1 -W 3 {lab.VmIp(2, 1)}"); // the datagrams went before
        await capture.StopAsync();
        var all = await Underlay.ReadAsync(capture);

        var flows = all
            .Where(d => d.InnerSourceMac == lab.VmMac(1, 1) && d.UdpDestinationPorts.Length == 1 && d.UdpDestinationPorts[0] is var p && p.StartsWith("700", StringComparison.Ordinal))
            .GroupBy(d => d.UdpDestinationPorts[0])
            .ToDictionary(g => g.Key, g => g.Select(d => d.SourcePort).ToList());
        string described = string.Join("; ", flows.OrderBy(f => f.Key).Select(f => $"{f.Key}: {string.Join(',', f.Value)}"));
        Assert.True(flows.Count == 8 && flows.Values.All(v => v.Count == 2), $"expected 8 flows × 2 datagrams, got {described}\n{Underlay.Describe(all)}");
        Assert.All(flows.Values.SelectMany(v => v), port => Assert.InRange(port, 49152, 65535));
        Assert.True(flows.Values.All(v => v.Distinct().Count() == 1), $"a flow changed its outer source port: {described}");
        Assert.True(flows.Values.Select(v => v[0]).Distinct().Count() >= 4, $"the outer source port does not follow the flow: {described}");
    }

    /// <summary>
    /// VM migration: h1-vm3 moves to h2 (same MAC and IP, on h2's spare port mv1). h3-vm1 reaches it
    /// there, the MAC table has it at h2 with a higher sequence, and after convergence nothing for
    /// its MAC goes to h1.
    /// </summary>
    [Fact]
    public async Task A_vm_moved_to_another_host_is_reached_there_and_nothing_for_it_goes_to_the_old_host()
    {
        string mac = lab.VmMac(1, 3), ip = lab.VmIp(1, 3);
        await Shell.CheckedAsync(lab.VmNamespace(3, 1), $"ping -c 2 -i 0.2 -W 3 {ip}");
        await Eventually.WaitAsync(async () => await lab.RemoteMacAsync(3, UnderlayFixture.WebVni, mac) == lab.UnderlayIp(1), TimeSpan.FromSeconds(15), $"h3 maps {mac} to h1");
        JsonElement? before = null;
        await Eventually.AssertAsync(
            async () =>
            {
                before = await lab.MacEntryAsync(UnderlayFixture.WebVni, mac);
                Assert.True(before is { } b && b.GetProperty("hostId").GetString() == "h1", $"MAC table before the move: {before}");
            },
            TimeSpan.FromSeconds(15),
            $"the MAC table to hold {mac} at h1");
        long sequence = before!.Value.GetProperty("sequence").GetInt64();

        var moved = DateTime.UtcNow;
        await lab.LabAsync("move", "--vm", "h1-vm3", "--to", "h2", "--port", "mv1", "--quiet");

        // Reached again at h2 within a bound.
        await Eventually.WaitAsync(
            async () => (await Shell.InNamespaceAsync(lab.VmNamespace(3, 1), $"ping -c 1 -W 1 {ip}")).ExitCode == 0,
            TimeSpan.FromSeconds(20), $"h3-vm1 reaches {ip} after it moved to h2");
        var reached = DateTime.UtcNow - moved;

        await Eventually.WaitAsync(async () =>
        {
            var entry = await lab.MacEntryAsync(UnderlayFixture.WebVni, mac);
            return entry is { } e && e.GetProperty("hostId").GetString() == "h2" && e.GetProperty("port").GetString() == "mv1"
                && e.GetProperty("vtep").GetString() == lab.UnderlayIp(2) && e.GetProperty("sequence").GetInt64() > sequence;
        }, TimeSpan.FromSeconds(15), $"the MAC table has {mac} at h2/mv1 with a sequence above {sequence}");
        await Eventually.WaitAsync(async () => await lab.RemoteMacAsync(3, UnderlayFixture.WebVni, mac) == lab.UnderlayIp(2), TimeSpan.FromSeconds(15), $"h3 maps {mac} to h2");
        await Eventually.WaitAsync(async () => !(await lab.AgentStatusAsync(1)).HoldsLocalMac(mac), TimeSpan.FromSeconds(15), $"h1 no longer holds {mac} as a local MAC");

        await using var capture = await Underlay.CaptureAsync(lab, "moved");
        await Shell.CheckedAsync(lab.VmNamespace(3, 1), $"ping -c 5 -i 0.2 -W 3 {ip}");
        await capture.StopAsync();
        var all = await Underlay.ReadAsync(capture);
        var toMoved = all.Where(d => d.InnerDestinationMac == mac).ToList();
        Assert.True(toMoved.Count(d => d.IsIcmp) >= 5, $"the pings to the moved VM are not on the underlay (reached after {reached.TotalSeconds:F1} s):\n{Underlay.Describe(all)}");
        Assert.All(toMoved, d => Assert.Equal((lab.UnderlayIp(2), UnderlayFixture.WebVni), (d.Destination, d.Vni)));
        Assert.DoesNotContain(all, d => d.Destination == lab.UnderlayIp(1));
    }

    [Fact]
    public async Task A_request_for_a_known_address_is_answered_by_the_local_agent_and_never_crosses_the_underlay()
    {
        // h2-vm1 announces itself: a fresh ARP exchange with h1-vm1, snooped by h2's agent and
        // published as a binding that every agent of web gets.
        await FlushNeighboursAsync((1, 1), (2, 1), (3, 1));
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 1 -W 3 {lab.VmIp(2, 1)}");
        await Eventually.WaitAsync(
            async () => (await lab.AgentStatusAsync(3)).ArpBinding(UnderlayFixture.WebVni, lab.VmIp(2, 1)) == lab.VmMac(2, 1),
            TimeSpan.FromSeconds(15),
            $"h3's agent to hold the binding {lab.VmIp(2, 1)} → {lab.VmMac(2, 1)}");

        // The baseline from a status the agent wrote after this point (a read may be a second old).
        long before = (await lab.Status(3).ReadFreshAsync()).Total.GetValueOrDefault("arpSuppressed");

        await using var capture = await Underlay.CaptureAsync(lab, "arp-suppression");
        await Shell.CheckedAsync(lab.VmNamespace(3, 1), $"ping -c 2 -i 0.2 -W 3 {lab.VmIp(2, 1)}");
        var neighbour = await Shell.InNamespaceAsync(lab.VmNamespace(3, 1), $"ip neigh show {lab.VmIp(2, 1)}");
        await capture.StopAsync();
        var all = await Underlay.ReadAsync(capture);

        // The VM learnt the right MAC, from its own agent: no request for it on the underlay, while
        // the ping itself crossed it (h3 → h2 unicast).
        Assert.Contains(lab.VmMac(2, 1), neighbour.Output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(all, d => d.IsArpRequestFor(lab.VmIp(2, 1)));
        Assert.Contains(all, d => d.IsIcmp && d.Source == lab.UnderlayIp(3) && d.Destination == lab.UnderlayIp(2));
        // The counter is in the status file, rewritten every second: wait for the rewrite that holds it.
        await Eventually.AssertAsync(
            async () => Assert.True((await lab.AgentStatusAsync(3)).Total.GetValueOrDefault("arpSuppressed") > before, "h3 counted no suppressed ARP request"),
            TimeSpan.FromSeconds(10),
            "h3's status file to count the suppressed ARP request");

        // The binding is in the MAC table the API shows (soft state, published by h2's agent).
        await Eventually.AssertAsync(
            async () =>
            {
                var table = await lab.Http.GetFromJsonAsync<JsonElement>($"api/segments/{UnderlayFixture.WebVni}/macs");
                Assert.Contains(table.GetProperty("ipBindings").EnumerateArray(), b => b.GetProperty("ip").GetString() == lab.VmIp(2, 1)
                    && string.Equals(b.GetProperty("mac").GetString(), lab.VmMac(2, 1), StringComparison.OrdinalIgnoreCase));
            },
            TimeSpan.FromSeconds(10),
            $"the MAC table of {UnderlayFixture.WebVni} to show the binding {lab.VmIp(2, 1)} → {lab.VmMac(2, 1)}");
    }

    /// <summary>An address in the VM's /24 that no VM of the lab uses (the lab numbers VMs 11..99).</summary>
    private static string FreshAddress(string vmIp)
    {
        string net = vmIp[..(vmIp.LastIndexOf('.') + 1)];
        return net + Random.Shared.Next(200, 250);
    }

    private async Task FlushNeighboursAsync(params (int Host, int Vm)[] vms)
    {
        foreach (var (host, vm) in vms)
        {
            await Shell.CheckedAsync(lab.VmNamespace(host, vm), "ip neigh flush all");
        }
    }
}
