using System.Text.Json;

namespace Fabric.Lab.Tests;

/// <summary>VMs on different hosts talk through the agents, in real namespaces with real packets.</summary>
[Collection(LabCollection.Name)]
[Trait("Category", "Lab")]
public sealed class ForwardingTests(LabFixture lab)
{
    [Theory]
    [InlineData(1, 2, 1)]
    [InlineData(1, 3, 1)]
    [InlineData(2, 3, 2)]
    [InlineData(3, 1, 2)]
    public async Task Vms_in_one_port_group_on_different_hosts_reach_each_other_by_ping(int from, int to, int vm)
    {
        var ping = await Shell.InNamespaceAsync(lab.VmNamespace(from, vm), $"ping -c 3 -i 0.2 -W 2 {lab.VmIp(to, vm)}");
        Assert.True(ping.ExitCode == 0, $"ping h{from}-vm{vm} → h{to}-vm{vm} failed:\n{ping.Output}\n{lab.Log[^Math.Min(lab.Log.Length, 4000)..]}");
    }

    [Fact]
    public async Task Tcp_connects_and_carries_data_between_hosts()
    {
        var server = Shell.InNamespaceAsync(lab.VmNamespace(2, 1), "iperf3 -s -1 -p 5301", TimeSpan.FromSeconds(40));
        await Eventually.WaitAsync(
            async () => (await Shell.InNamespaceAsync(lab.VmNamespace(2, 1), "ss -Htln 'sport = :5301'")).Output.Contains("LISTEN", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "iperf3 listening on h2-vm1");
        var client = await Shell.InNamespaceAsync(lab.VmNamespace(1, 1), $"iperf3 -c {lab.VmIp(2, 1)} -p 5301 -t 2 -J", TimeSpan.FromSeconds(30));
        await server;
        Assert.True(client.ExitCode == 0, $"iperf3 failed:\n{client.Output}");
        var result = JsonDocument.Parse(client.Output).RootElement;
        long sent = result.GetProperty("end").GetProperty("sum_sent").GetProperty("bytes").GetInt64();
        long received = result.GetProperty("end").GetProperty("sum_received").GetProperty("bytes").GetInt64();
        Assert.True(received >= 1024 * 1024, $"sent {sent}, received {received}");
    }

    [Fact]
    public async Task No_frame_of_one_vni_reaches_a_vm_of_the_other()
    {
        // Force an on-link route so vm1 really ARPs for the db VM: isolation must hold at layer 2,
        // not just because the subnets differ.
        string target = lab.VmIp(2, 2);
        await Shell.InNamespaceAsync(lab.VmNamespace(1, 1), $"ip route replace {target}/32 dev eth0");
        string webMac = lab.Env["H1_VM1_MAC"];
        try
        {
            // Capture on the db VM everything whose source is the web VM, while the web VM tries.
            await using var capture = await Traffic.CaptureFromAsync(lab, lab.VmNamespace(2, 2), lab.VmIp(2, 2), lab.VmIp(3, 2), webMac, "isolation");
            var ping = await Shell.InNamespaceAsync(lab.VmNamespace(1, 1), $"ping -c 3 -i 0.2 -W 1 {target}");
            await capture.StopAsync();
            Assert.NotEqual(0, ping.ExitCode);
            var frames = await Pcap.FieldsAsync(capture.File, $"eth.src == {webMac}", "frame.number", "eth.dst", "frame.protocols");
            Assert.True(frames.Count == 0, $"the db VM saw frames of the web VM:\n{string.Join('\n', frames.Select(f => string.Join(' ', f)))}");
        }
        finally
        {
            await Shell.InNamespaceAsync(lab.VmNamespace(1, 1), $"ip route del {target}/32 dev eth0");
        }
    }

    [Fact]
    public async Task A_malformed_datagram_from_a_vtep_is_dropped_and_counted_and_the_agent_keeps_forwarding()
    {
        long before = (await lab.Status(1).ReadFreshAsync()).Vtep.GetValueOrDefault("drop.Malformed");
        // Wrong flags (I bit clear) and a truncated header, sent from host 2's underlay address.
        await Shell.InNamespaceAsync(lab.HostNamespace(2), $"printf '\\x00\\x00\\x00\\x00\\x00\\x13\\x89\\x00abcdefghijklmnop' > /dev/udp/{lab.UnderlayIp(1)}/4789; printf '\\x08\\x00' > /dev/udp/{lab.UnderlayIp(1)}/4789");
        await Eventually.WaitAsync(async () => await MalformedAsync(1) >= before + 2, TimeSpan.FromSeconds(10), "two malformed drops counted on h1");

        var ping = await Shell.InNamespaceAsync(lab.VmNamespace(2, 1), $"ping -c 2 -i 0.2 -W 2 {lab.VmIp(1, 1)}");
        Assert.Equal(0, ping.ExitCode);
    }

    [Fact]
    public async Task Vxlan_from_an_address_that_is_not_a_vtep_of_the_segment_is_dropped_and_counted()
    {
        long before = (await lab.Status(1).ReadFreshAsync()).Vtep.GetValueOrDefault("drop.NotAVtepOfSegment");
        // A well-formed VXLAN datagram for VNI 5001 (0x001389) carrying a broadcast frame, sent from
        // the underlay switch's own address, which no agent registered as a VTEP.
        string frame = "\\x08\\x00\\x00\\x00\\x00\\x13\\x89\\x00" + "\\xff\\xff\\xff\\xff\\xff\\xff\\x02\\xee\\x00\\x00\\x00\\x01\\x08\\x06" + new string('x', 46);
        await Shell.InNamespaceAsync($"{lab.Prefix}-ul", $"printf '{frame}' > /dev/udp/{lab.UnderlayIp(1)}/4789");
        await Eventually.WaitAsync(async () => await DropsAsync(1, "drop.NotAVtepOfSegment") > before, TimeSpan.FromSeconds(10), "NotAVtepOfSegment counted on h1");
        // Nothing learned from it: judged on a status the agent wrote after the drop was counted.
        var status = await lab.Status(1).ReadFreshAsync();
        Assert.DoesNotContain(status.LocalMacs, m => m.Mac == "02:ee:00:00:00:01");
    }

    [Fact]
    public async Task Every_host_learns_the_remote_macs_of_its_segments_through_the_cluster()
    {
        await Shell.InNamespaceAsync(lab.VmNamespace(3, 1), $"ping -c 1 -W 2 {lab.VmIp(1, 1)}");
        string mac = lab.Env["H3_VM1_MAC"];
        await Eventually.WaitAsync(async () =>
        {
            var status = await lab.AgentStatusAsync(1);
            var web = status.Segments.Single(s => s.Vni == LabFixture.WebVni);
            return web.RemoteMacs.TryGetValue(mac, out var vtep) && vtep == lab.UnderlayIp(3);
        }, TimeSpan.FromSeconds(10), $"h1 maps {mac} to {lab.UnderlayIp(3)}");
    }

    private Task<long> MalformedAsync(int host) => DropsAsync(host, "drop.Malformed");

    private async Task<long> DropsAsync(int host, string counter) => (await lab.AgentStatusAsync(host)).Vtep.GetValueOrDefault(counter);
}
