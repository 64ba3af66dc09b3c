using System.Globalization;
using System.Net;
using System.Text.Json;
using Xunit.Abstractions;

namespace Fabric.Lab.Tests;

/// <summary>
/// Issue 12, DHCP served by the agents (RFC 2131) for "web", judged by a real client: busybox's
/// <c>udhcpc</c> in the VM namespaces (VM 4 of every host), its script recording what it was given.
/// </summary>
[Collection(RoutingCollection.Name)]
[Trait("Category", "Routing")]
public sealed class DhcpTests(RoutingFixture lab, ITestOutputHelper output)
{
    private const int Vm = 4;

    /// <summary>A udhcpc script that records every event with the options it got, and applies the lease when <c>APPLY</c> is set.</summary>
    private const string Script = """
        #!/bin/sh
        echo "$1 ip=$ip subnet=$subnet router=$router dns=$(echo $dns | tr ' ' ',') mtu=$mtu lease=$lease serverid=$serverid" >> "$LOG"
        [ -n "$APPLY" ] || exit 0
        case "$1" in
          deconfig) ip -4 addr flush dev "$interface" ;;
          bound|renew) ip -4 addr flush dev "$interface"; ip addr add "$ip/$subnet" dev "$interface"; ip route replace default via "$router" dev "$interface" ;;
        esac
        """;

    private string ScriptPath
    {
        get
        {
            string path = Path.Combine(lab.StatusDir, "udhcpc.sh");
            if (!File.Exists(path))
            {
                File.WriteAllText(path, Script.Replace("\r", "", StringComparison.Ordinal) + "\n");
                if (OperatingSystem.IsLinux())
                {
                    File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
            }

            return path;
        }
    }

    private string NewLog(int host) => Path.Combine(lab.StatusDir, $"udhcpc-h{host}-{Guid.NewGuid():N}.log");

    private static bool HasEvent(string log, string name)
        => File.Exists(log) && File.ReadAllLines(log).Any(l => l.StartsWith(name + " ", StringComparison.Ordinal));

    private static Dictionary<string, string> Event(string log, string name)
    {
        string line = File.ReadAllLines(log).Last(l => l.StartsWith(name + " ", StringComparison.Ordinal));
        return line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
    }

    private async Task<string> LeaseOnceAsync(int host, string log, bool apply = false)
    {
        var result = await Shell.InNamespaceAsync(lab.VmNamespace(host, Vm),
            $"LOG={log} {(apply ? "APPLY=1 " : "")}busybox udhcpc -i eth0 -f -q -n -t 5 -T 1 -O mtu -s {ScriptPath}", TimeSpan.FromSeconds(30));
        output.WriteLine($"h{host}-vm{Vm}: {result.Output}");
        Assert.True(result.ExitCode == 0, $"udhcpc on h{host}-vm{Vm} got no lease:\n{result.Output}\n{lab.LogTail()}");
        return Event(log, "bound")["ip"];
    }

    private async Task<JsonElement[]> AllocationsAsync()
        => [.. (await lab.Fabric.Api.GetJsonAsync($"api/switches/{FabricDeployment.Switch}/portgroups/web/allocations")).EnumerateArray()];

    private async Task ReleaseAllAsync()
    {
        foreach (var allocation in await AllocationsAsync())
        {
            string address = allocation.GetProperty("address").GetString()!.Split('/')[0];
            await lab.Fabric.Api.SendAsync(HttpMethod.Delete, $"api/switches/{FabricDeployment.Switch}/portgroups/web/allocations/{address}");
        }
    }

    [Fact]
    public async Task A_lease_carries_the_pools_options_and_discover_to_ack_is_timed_on_the_wire()
    {
        string vmIp = lab.VmIp(1, Vm);
        string ns = lab.VmNamespace(1, Vm);
        var marker = new CaptureMarker($"src host {vmIp} and udp dst port 9", $"{vmIp}\t9", () => Shell.InNamespaceAsync(ns, $"echo end > /dev/udp/{RoutingFixture.Gateway(Vm)}/9"));
        string log = NewLog(1);
        try
        {
            await using var capture = await Capture.StartAsync(ns, "eth0", "udp port 67 or udp port 68", Path.Combine(lab.StatusDir, $"dhcp-{Guid.NewGuid():N}.pcap"), marker);
            string leased = await LeaseOnceAsync(1, log);
            await capture.StopAsync();

            var bound = Event(log, "bound");
            output.WriteLine(string.Join(' ', bound.Select(kv => $"{kv.Key}={kv.Value}")));
            uint address = Ip(leased);
            Assert.InRange(address, Ip(RoutingFixture.DhcpFirst), Ip(RoutingFixture.DhcpLast));
            Assert.Equal("255.255.255.0", bound["subnet"]);
            Assert.Equal(RoutingFixture.Gateway(Vm), bound["router"]);
            Assert.Equal(RoutingFixture.Gateway(Vm), bound["serverid"]);
            Assert.Equal(string.Join(',', RoutingFixture.DnsServers), bound["dns"]);
            Assert.Equal("1450", bound["mtu"]);
            Assert.Equal(RoutingFixture.LeaseTime.ToString(CultureInfo.InvariantCulture), bound["lease"]);

            // The exchange on the wire: DISCOVER, OFFER, REQUEST, ACK, and how long it took.
            var rows = await Pcap.FieldsAsync(capture.File, "dhcp", "frame.time_relative", "dhcp.option.dhcp", "dhcp.ip.your");
            var types = rows.Select(r => r[1]).ToArray();
            Assert.Equal(["1", "2", "3", "5"], types);
            Assert.Equal(leased, rows[3][2]);
            double discover = double.Parse(rows[0][0], CultureInfo.InvariantCulture), ack = double.Parse(rows[3][0], CultureInfo.InvariantCulture);
            double offer = double.Parse(rows[1][0], CultureInfo.InvariantCulture), request = double.Parse(rows[2][0], CultureInfo.InvariantCulture);
            output.WriteLine($"DISCOVER → OFFER {(offer - discover) * 1000:F1} ms, REQUEST → ACK {(ack - request) * 1000:F1} ms, DISCOVER → ACK {(ack - discover) * 1000:F1} ms");
            Assert.True(ack - discover < 1.0, $"DISCOVER → ACK took {(ack - discover) * 1000:F0} ms");
            var complaints = await Pcap.ComplaintsAsync(capture.File, "dhcp");
            Assert.True(complaints.Count == 0, $"tshark complains about {capture.Keep()}:\n{string.Join('\n', complaints)}");
        }
        finally
        {
            await ReleaseAllAsync();
        }
    }

    [Fact]
    public async Task A_leased_vm_is_bound_and_routed_to_at_once_a_renewal_keeps_its_address_and_a_release_frees_it()
    {
        string ns = lab.VmNamespace(2, Vm), mac = lab.VmMac(2, Vm);
        string log = NewLog(2), pidFile = Path.Combine(lab.StatusDir, $"udhcpc-{Guid.NewGuid():N}.pid");
        try
        {
            await Shell.CheckedAsync(ns, "ip -4 addr flush dev eth0");
            var client = await lab.Fabric.StartHelperAsync("udhcpc h2-vm4", ns, "obtained", "env", $"LOG={log}", "APPLY=1",
                "busybox", "udhcpc", "-i", "eth0", "-f", "-t", "5", "-T", "1", "-O", "mtu", "-p", pidFile, "-s", ScriptPath);
            await Eventually.WaitAsync(() => Task.FromResult(HasEvent(log, "bound")), TimeSpan.FromSeconds(10), "udhcpc ran its script for the lease");
            string leased = Event(log, "bound")["ip"];

            // Bound in the fabric by the lease itself (no ARP from the VM needed) and reached, routed, from db on h3.
            await Eventually.WaitAsync(async () => (await lab.Status(3).ReadAsync()).ArpBinding(RoutingFixture.WebVni, leased) == mac, TimeSpan.FromSeconds(5), $"h3's agent binds {leased} to {mac}");
            var ping = await Shell.InNamespaceAsync(lab.VmNamespace(3, 2), $"ping -n -c 3 -i 0.2 -W 2 {leased}");
            Assert.True(ping.Output.Contains("3 received", StringComparison.Ordinal), ping.Output);

            // Renewal (SIGUSR1: a REQUEST unicast to the server from the leased address, RFC 2131 §4.4.5).
            string pid = (await File.ReadAllTextAsync(pidFile)).Trim();
            await Shell.CheckedAsync(ns, $"kill -USR1 {pid}");
            await Eventually.WaitAsync(() => Task.FromResult(HasEvent(log, "renew")), TimeSpan.FromSeconds(10), "udhcpc renewed its lease");
            Assert.Equal(leased, Event(log, "renew")["ip"]);
            var held = (await AllocationsAsync()).Single(a => a.GetProperty("owner").GetString() == $"dhcp/{mac}");
            Assert.Equal($"{leased}/24", held.GetProperty("address").GetString());
            Assert.Equal("h2", held.GetProperty("hostId").GetString());

            // Release (SIGUSR2: DHCPRELEASE): IPAM frees the address.
            await Shell.CheckedAsync(ns, $"kill -USR2 {pid}");
            await Eventually.WaitAsync(async () => (await AllocationsAsync()).All(a => a.GetProperty("owner").GetString() != $"dhcp/{mac}"), TimeSpan.FromSeconds(10), $"the lease of {mac} released");
            client.Kill();
        }
        finally
        {
            await Shell.InNamespaceAsync(ns, $"ip -4 addr flush dev eth0; ip addr add {lab.VmIp(2, Vm)}/24 dev eth0; ip route replace default via {RoutingFixture.Gateway(Vm)} dev eth0");
            await ReleaseAllAsync();
        }
    }

    [Fact]
    public async Task Clients_on_three_hosts_at_once_get_three_different_addresses()
    {
        try
        {
            var leases = await Task.WhenAll(Enumerable.Range(1, 3).Select(h => LeaseOnceAsync(h, NewLog(h))));
            output.WriteLine(string.Join(", ", leases));
            Assert.Equal(3, leases.Distinct().Count());

            var allocations = await AllocationsAsync();
            foreach (int h in new[] { 1, 2, 3 })
            {
                var mine = allocations.Single(a => a.GetProperty("owner").GetString() == $"dhcp/{lab.VmMac(h, Vm)}");
                Assert.Equal($"h{h}", mine.GetProperty("hostId").GetString());
                Assert.Equal($"{leases[h - 1]}/24", mine.GetProperty("address").GetString());
            }

            // A client asking again (a reboot) gets the address it holds.
            Assert.Equal(leases[0], await LeaseOnceAsync(1, NewLog(1)));
        }
        finally
        {
            await ReleaseAllAsync();
        }
    }

    private static uint Ip(string text)
    {
        var bytes = IPAddress.Parse(text).GetAddressBytes();
        return (uint)(bytes[0] << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3]);
    }
}
