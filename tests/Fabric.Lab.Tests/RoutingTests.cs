using System.Globalization;
using Xunit.Abstractions;

namespace Fabric.Lab.Tests;

/// <summary>
/// Issue 12, the distributed gateway: VMs of two routed port groups reach each other through the
/// anycast gateway on their own host (EVPN asymmetric IRB, RFC 9135 §4), with what a router owes
/// them in ICMP (RFC 792, RFC 1812, RFC 1191), judged by the VMs' own ping, traceroute and TCP and
/// by tshark on the underlay.
/// </summary>
[Collection(RoutingCollection.Name)]
[Trait("Category", "Routing")]
public sealed class RoutingTests(RoutingFixture lab, ITestOutputHelper output)
{
    private const string GatewayMac = "0a:fa:b0:00:00:01";

    private async Task<string> PingAsync(int fromHost, int fromVm, string target, string options = "-c 5 -i 0.2 -W 2")
    {
        var result = await Shell.InNamespaceAsync(lab.VmNamespace(fromHost, fromVm), $"ping -n {options} {target}");
        output.WriteLine($"h{fromHost}-vm{fromVm} → {target}:\n{result.Output}");
        return result.Output;
    }

    [Theory]
    [InlineData(1, 1, 1, 2)] // web → db on the same host
    [InlineData(1, 1, 2, 2)] // web → db across hosts
    [InlineData(3, 2, 1, 1)] // db → web across hosts
    public async Task Vms_of_two_routed_port_groups_ping_each_other_through_one_hop(int fromHost, int fromVm, int toHost, int toVm)
    {
        string target = lab.VmIp(toHost, toVm);
        string text = await PingAsync(fromHost, fromVm, target);

        Assert.Contains("5 packets transmitted, 5 received", text, StringComparison.Ordinal);
        Assert.Contains("ttl=63", text, StringComparison.Ordinal); // decremented once, by the ingress gateway
        Assert.Equal(GatewayMac, await lab.NeighbourAsync(fromHost, fromVm, RoutingFixture.Gateway(fromVm)));
    }

    [Fact]
    public async Task Tcp_crosses_between_routed_port_groups_on_different_hosts_both_ways()
    {
        await Traffic.TcpAsync(lab.VmNamespace(1, 1), lab.VmNamespace(2, 2), lab.VmIp(2, 2), 5701, "-n 1M");
        await Traffic.TcpAsync(lab.VmNamespace(3, 2), lab.VmNamespace(1, 1), lab.VmIp(1, 1), 5702, "-n 1M");
    }

    [Fact]
    public async Task Each_routed_packet_crosses_the_underlay_once_in_the_destination_vni()
    {
        string from = lab.VmIp(1, 1), to = lab.VmIp(2, 2);
        await using var capture = await Underlay.CaptureAsync(lab, "routed");
        string text = await PingAsync(1, 1, to, "-c 10 -i 0.1 -W 2");
        await capture.StopAsync();
        Assert.Contains("10 received", text, StringComparison.Ordinal);

        var rows = await Pcap.FieldsAsync(capture.File, "udp.port == 4789 && icmp", "vxlan.vni", "ip.src", "ip.dst", "icmp.type", "icmp.seq", "eth.src", "eth.dst");
        var requests = rows.Where(r => r[3] == "8").ToList();
        var replies = rows.Where(r => r[3] == "0").ToList();
        foreach (var row in rows)
        {
            output.WriteLine(string.Join('\t', row));
        }

        // One datagram per echo request, in db's VNI, from the gateway's MAC to h2-vm2; the replies,
        // routed on h2, come back once each in web's VNI.
        Assert.Equal(10, requests.Count);
        Assert.Equal(10, requests.Select(r => r[4]).Distinct().Count());
        Assert.All(requests, r =>
        {
            Assert.Equal(RoutingFixture.DbVni.ToString(CultureInfo.InvariantCulture), r[0]);
            Assert.Equal($"{lab.UnderlayIp(1)}|{from}", r[1]);
            Assert.Equal($"{lab.UnderlayIp(2)}|{to}", r[2]);
            Assert.EndsWith($"|{GatewayMac}", r[5], StringComparison.Ordinal);
            Assert.EndsWith($"|{lab.VmMac(2, 2)}", r[6], StringComparison.Ordinal);
        });
        Assert.Equal(10, replies.Count);
        Assert.All(replies, r => Assert.Equal(RoutingFixture.WebVni.ToString(CultureInfo.InvariantCulture), r[0]));
        var complaints = await Underlay.ComplaintsAsync(capture);
        Assert.True(complaints.Count == 0, $"tshark complains about {capture.Keep()}:\n{string.Join('\n', complaints.Take(20))}");
    }

    [Fact]
    public async Task Traceroute_shows_the_gateway_as_the_one_hop_before_the_destination()
    {
        string target = lab.VmIp(3, 2);
        var result = await Shell.InNamespaceAsync(lab.VmNamespace(1, 1), $"busybox traceroute -n -q 1 -w 2 -m 5 {target}", TimeSpan.FromSeconds(30));
        output.WriteLine(result.Output);

        var hops = result.Output.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && char.IsDigit(l[0])).ToArray();
        Assert.True(hops.Length == 2, $"expected 2 hops, got:\n{result.Output}");
        Assert.StartsWith($"1  {RoutingFixture.Gateway(1)} ", hops[0], StringComparison.Ordinal);
        Assert.StartsWith($"2  {target} ", hops[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_packet_whose_ttl_runs_out_gets_time_exceeded_from_the_gateway()
    {
        string text = await PingAsync(1, 1, lab.VmIp(2, 2), "-c 1 -t 1 -W 2");

        Assert.Contains($"From {RoutingFixture.Gateway(1)} icmp_seq=1 Time to live exceeded", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_port_group_that_is_not_routed_is_unreachable_from_routed_ones_and_reaches_none()
    {
        string unreachable = await PingAsync(1, 1, lab.VmIp(2, 3), "-c 1 -W 2");
        Assert.Contains($"From {RoutingFixture.Gateway(1)} icmp_seq=1 Destination Net Unreachable", unreachable, StringComparison.Ordinal);

        // From the isolated port group nothing answers for its gateway: it has no router.
        string isolated = await PingAsync(1, 3, lab.VmIp(2, 1), "-c 2 -i 0.3 -W 1");
        Assert.Contains("0 received", isolated, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_vm_at_mtu_1500_gets_fragmentation_needed_with_mtu_1450_and_then_tcp_gets_through()
    {
        string vm = lab.VmNamespace(1, 1), host = lab.HostNamespace(1);
        try
        {
            // The VM's vNIC (both ends) at 1500 with its offloads off: it sends 1500-byte packets with DF.
            await Shell.CheckedAsync(host, "ip link set vm1 mtu 1500");
            await Shell.CheckedAsync(vm, "ip link set eth0 mtu 1500 && ethtool -K eth0 tso off gso off >/dev/null && ip route flush cache");

            string text = await PingAsync(1, 1, lab.VmIp(2, 2), "-c 2 -i 0.3 -W 2 -M do -s 1472");
            Assert.Contains($"From {RoutingFixture.Gateway(1)} icmp_seq=1 Frag needed and DF set (mtu = 1450)", text, StringComparison.Ordinal);
            var route = await Shell.CheckedAsync(vm, $"ip route get {lab.VmIp(2, 2)}");
            Assert.Contains("mtu 1450", route, StringComparison.Ordinal); // RFC 1191: the path MTU learned

            // Path MTU discovery: TCP lowers its segments and the transfer completes.
            await Traffic.TcpAsync(vm, lab.VmNamespace(2, 2), lab.VmIp(2, 2), 5703, "-n 2M");
        }
        finally
        {
            await Shell.InNamespaceAsync(vm, $"ip link set eth0 mtu {lab.Env["LAB_VM_MTU"]} && ethtool -K eth0 tso on gso on >/dev/null; ip route flush cache");
            await Shell.InNamespaceAsync(host, $"ip link set vm1 mtu {lab.Env["LAB_VM_MTU"]}");
        }
    }

    [Fact]
    public async Task The_gateway_answers_echo_and_counts_what_it_routed()
    {
        string text = await PingAsync(2, 2, RoutingFixture.Gateway(2), "-c 3 -i 0.2 -W 2");
        Assert.Contains("3 received", text, StringComparison.Ordinal);
        Assert.Contains("ttl=64", text, StringComparison.Ordinal);

        // The other routed port group's gateway address is the same router: it answers too.
        Assert.Contains("3 received", await PingAsync(2, 2, RoutingFixture.Gateway(1), "-c 3 -i 0.2 -W 2"), StringComparison.Ordinal);
    }
}
