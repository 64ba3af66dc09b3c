using Xunit.Abstractions;

namespace Fabric.Lab.Tests;

/// <summary>
/// Issue 12, the network modes of a port group, judged from the VMs, the hosts and a machine on the
/// LAN that is not part of the fabric (<see cref="ModesFixture.OutsideNamespace"/>).
/// </summary>
[Collection(ModesCollection.Name)]
[Trait("Category", "Routing")]
public sealed class NetworkModeTests(ModesFixture lab, ITestOutputHelper output)
{
    private async Task<bool> PingsAsync(string ns, string target, int count = 2)
    {
        var result = await Shell.InNamespaceAsync(ns, $"ping -n -c {count} -i 0.2 -W 1 {target}");
        output.WriteLine($"{ns} → {target}: {(result.ExitCode == 0 ? "reached" : "not reached")}\n{result.Output}");
        return result.ExitCode == 0;
    }

    /// <summary>A one-shot TCP server in <paramref name="ns"/> on <paramref name="port"/> that prints who connected and answers "hello".</summary>
    private Task<TestProcess> ServeOnceAsync(string ns, int port) => lab.Fabric.StartHelperAsync($"tcp server {ns}:{port}", ns, "listening",
        "python3", "-u", "-c",
        $"import socket\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('0.0.0.0',{port}));s.listen();print('listening',flush=True)\n" +
        "c,a=s.accept();print('peer',a[0],flush=True);c.sendall(b'hello');c.close()");

    /// <summary>Flushes eth0's IPv4 addresses in <paramref name="ns"/> and takes a lease with busybox's udhcpc: (address, server).</summary>
    private async Task<(string Address, string Server)> LeaseAsync(string ns, TestProcess? server = null)
    {
        var lease = await Shell.InNamespaceAsync(ns, "ip -4 addr flush dev eth0 && busybox udhcpc -i eth0 -f -q -n -t 5 -T 1 -s /bin/true 2>&1", TimeSpan.FromSeconds(30));
        output.WriteLine(lease.Output);
        var match = System.Text.RegularExpressions.Regex.Match(lease.Output, @"lease of ([0-9.]+) obtained from ([0-9.]+)");
        Assert.True(match.Success, $"no DHCP lease in {ns}:\n{lease.Output}\n{server?.Tail()}");
        return (match.Groups[1].Value, match.Groups[2].Value);
    }

    private static async Task<string> ConnectAsync(string ns, string address, int port)
    {
        var result = await Shell.InNamespaceAsync(ns, $"timeout 5 bash -c 'exec 3<>/dev/tcp/{address}/{port} && cat <&3'", TimeSpan.FromSeconds(10));
        return result.ExitCode == 0 ? result.Output.Trim() : $"failed: {result.Output.Trim()}";
    }

    [Fact]
    public async Task Host_only_vms_reach_their_host_and_each_other_on_one_host_and_nothing_beyond()
    {
        string h1vm1 = lab.VmNamespace(1, 1);

        Assert.True(await PingsAsync(h1vm1, ModesFixture.Gateway(1)), "a host-only VM reaches its host's gateway address");
        Assert.True(await PingsAsync(lab.HostNamespace(1), lab.VmIp(1, 1)), "the host reaches its host-only VM");

        // The same port group on another host is another network; nothing leaves the host.
        Assert.False(await PingsAsync(h1vm1, lab.VmIp(2, 1)), "h1-vm1 must not reach h2-vm1 of the same host-only port group");
        Assert.False(await PingsAsync(h1vm1, lab.OutsideIp), "a host-only VM must not reach the LAN");
        Assert.False(await PingsAsync(h1vm1, lab.VmIp(1, 2)), "a host-only VM must not reach the host's NAT network");
        var status = await lab.Status(1).ReadAsync();
        Assert.True(status.Segment(ModesFixture.PrivateVni) is { } segment && segment.FloodList.Count == 0, "a host-only segment has no flood list");
    }

    [Fact]
    public async Task A_nat_vm_takes_an_address_by_dhcp_and_reaches_the_outside_with_the_hosts_address()
    {
        string ns = lab.VmNamespace(2, 2);
        try
        {
            var (address, dhcpServer) = await LeaseAsync(ns);
            Assert.StartsWith("192.168.101.1", address, StringComparison.Ordinal);
            Assert.Equal(ModesFixture.Gateway(2), dhcpServer);
            await Shell.CheckedAsync(ns, $"ip addr add {address}/24 dev eth0 && ip route replace default via {ModesFixture.Gateway(2)} dev eth0");

            var server = await ServeOnceAsync(lab.OutsideNamespace, 7001);
            Assert.Equal("hello", await ConnectAsync(ns, lab.OutsideIp, 7001));
            await server.WaitForOutputAsync("peer ", TimeSpan.FromSeconds(10));
            Assert.Contains($"peer {lab.UnderlayIp(2)}", server.Output.Text, StringComparison.Ordinal); // masqueraded behind h2
        }
        finally
        {
            await Shell.InNamespaceAsync(ns, $"ip -4 addr flush dev eth0; ip addr add {lab.VmIp(2, 2)}/24 dev eth0; ip route replace default via {ModesFixture.Gateway(2)} dev eth0");
        }
    }

    [Fact]
    public async Task Nothing_outside_opens_a_connection_to_a_nat_vm_unless_a_port_forward_says_so()
    {
        string outside = lab.OutsideNamespace;
        string host = lab.UnderlayIp(1);
        await Shell.CheckedAsync(outside, $"ip route replace 192.168.101.0/24 via {host}"); // a LAN router pointing at the host, the best case for an intruder
        try
        {
            // A server on h1-vm2's port 80, which only the forward of the host's 8080 reaches.
            var direct = await ServeOnceAsync(lab.VmNamespace(1, 2), 80);
            Assert.StartsWith("failed", await ConnectAsync(outside, lab.VmIp(1, 2), 80), StringComparison.Ordinal);
            Assert.False(await PingsAsync(outside, lab.VmIp(1, 2)), "the outside must not reach a NAT VM's address");

            Assert.Equal("hello", await ConnectAsync(outside, host, ModesFixture.ForwardedPort));
            await direct.WaitForOutputAsync("peer ", TimeSpan.FromSeconds(10));
            Assert.Contains($"peer {lab.OutsideIp}", direct.Output.Text, StringComparison.Ordinal);
        }
        finally
        {
            await Shell.InNamespaceAsync(outside, "ip route del 192.168.101.0/24");
        }
    }

    [Fact]
    public async Task A_bridged_vm_takes_its_address_from_the_lans_dhcp_server_and_the_lan_reaches_it_untunnelled()
    {
        string ns = lab.VmNamespace(1, 3), net = lab.Env["LAB_UNDERLAY_NET"];
        string leases = Path.Combine(lab.StatusDir, $"dnsmasq-{Guid.NewGuid():N}.leases");
        var dnsmasq = await lab.Fabric.StartHelperAsync("dnsmasq (LAN)", lab.OutsideNamespace, "DHCP, IP range",
            "dnsmasq", "--no-daemon", "--port=0", "--interface=eth0", "--bind-interfaces", "--log-dhcp", "--no-resolv", "--no-hosts",
            $"--dhcp-range={net}.100,{net}.150,255.255.255.0,120", $"--dhcp-leasefile={leases}", "--conf-file=/dev/null", "--pid-file=");
        try
        {
            await using var capture = await Underlay.CaptureAnyAsync(lab, "bridged", $"ether host {lab.VmMac(1, 3)}");
            var (address, dhcpServer) = await LeaseAsync(ns, dnsmasq);
            Assert.Equal(lab.OutsideIp, dhcpServer);
            Assert.StartsWith($"{net}.1", address, StringComparison.Ordinal);
            await Shell.CheckedAsync(ns, $"ip addr add {address}/24 dev eth0");

            Assert.True(await PingsAsync(lab.OutsideNamespace, address), "the LAN reaches the bridged VM");
            var server = await ServeOnceAsync(ns, 7002);
            Assert.Equal("hello", await ConnectAsync(lab.OutsideNamespace, address, 7002));
            await capture.StopAsync();

            // On the LAN the VM's frames are plain Ethernet from its own MAC: no VXLAN.
            var frames = await Pcap.FieldsAsync(capture.File, $"eth.src == {lab.VmMac(1, 3)}", "frame.protocols", "vlan.id");
            Assert.NotEmpty(frames);
            Assert.All(frames, f => Assert.DoesNotContain("vxlan", f[0], StringComparison.Ordinal));
            Assert.All(frames, f => Assert.Equal(string.Empty, f[1]));
        }
        finally
        {
            await Shell.InNamespaceAsync(ns, $"ip -4 addr flush dev eth0; ip addr add {lab.VmIp(1, 3)}/24 dev eth0");
        }
    }

    [Fact]
    public async Task A_bridged_port_group_with_an_uplink_vlan_is_tagged_on_the_lan_and_reached_in_that_vlan()
    {
        string ns = lab.VmNamespace(2, 4), mac = lab.VmMac(2, 4);
        try
        {
            await Shell.CheckedAsync(ns, "ip -4 addr flush dev eth0 && ip addr add 172.31.100.24/24 dev eth0");
            await using var capture = await Underlay.CaptureAnyAsync(lab, "bridged-vlan", $"ether host {mac}");
            Assert.True(await PingsAsync(ns, ModesFixture.OutsideVlan100Ip, 3), "the VLAN 100 VM reaches the LAN's VLAN 100");
            Assert.True(await PingsAsync(lab.OutsideNamespace, "172.31.100.24", 2), "the LAN's VLAN 100 reaches the VM");
            await capture.StopAsync();

            var frames = await Pcap.FieldsAsync(capture.File, $"eth.addr == {mac}", "eth.src", "vlan.id", "frame.protocols");
            Assert.NotEmpty(frames);
            Assert.All(frames, f => Assert.Equal("100", f[1]));
            Assert.Contains(frames, f => f[0] == mac);
            Assert.Contains(frames, f => f[0] != mac);
        }
        finally
        {
            await Shell.InNamespaceAsync(ns, $"ip -4 addr flush dev eth0; ip addr add {lab.VmIp(2, 4)}/24 dev eth0");
        }
    }
}
