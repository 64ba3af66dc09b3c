using System.Text.Json;

namespace Fabric.Lab.Tests;

/// <summary>
/// 3 hosts: h1 and h2 run agents (vm1 → web 5001, vm2 → db 5002); h3 is a Linux kernel VTEP
/// (vxlan5001/vxlan5002 with bridges, learning, flooding to h1 and h2). h3 joins both segments
/// as an external VTEP through the API, and its VMs' MACs are static entries behind it.
/// </summary>
public sealed class InteropFixture() : LabFabric(DefaultShape)
{
    public const long WebVni = 5001;
    public const long DbVni = 5002;

    public static LabShape DefaultShape { get; } = new()
    {
        Stem = "fi",
        Hosts = 3,
        PortGroups = [new("web", $$"""{"vni":{{WebVni}}}"""), new("db", $$"""{"vni":{{DbVni}}}""")],
        Agents = new Dictionary<int, IReadOnlyList<PortBinding>> { [1] = LabShape.WebAndDb, [2] = LabShape.WebAndDb },
        FloodLists = new Dictionary<long, int[]> { [WebVni] = [1, 2], [DbVni] = [1, 2] },
        Kernel = ["--vni", $"{WebVni},{DbVni}", "--hosts-subset", "h3", "--quiet"],
        AfterConverged = async lab =>
        {
            string kernel = lab.UnderlayIp(3);
            foreach (var (vni, vm) in new[] { (WebVni, 1), (DbVni, 2) })
            {
                await lab.PutAsync($"api/segments/{vni}/vteps/{kernel}", "{}");
                await lab.PutAsync($"api/segments/{vni}/macs/{lab.VmMac(3, vm)}", $$"""{"vtep":"{{kernel}}"}""");
            }

            await Eventually.WaitAsync(async () =>
            {
                foreach (int host in new[] { 1, 2 })
                {
                    foreach (var (vni, vm) in new[] { (WebVni, 1), (DbVni, 2) })
                    {
                        if (await lab.RemoteMacAsync(host, vni, lab.VmMac(3, vm)) != kernel)
                        {
                            return false;
                        }
                    }
                }

                return true;
            }, TimeSpan.FromSeconds(30), "both agents map h3's VMs to the kernel VTEP");
        },
    };
}

[CollectionDefinition(Name)]
public sealed class InteropCollection : ICollectionFixture<InteropFixture>
{
    public const string Name = "interop lab";
}

/// <summary>The agents and a Linux kernel VXLAN device carry each other's frames in both directions.</summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Interop")]
public sealed class InteropTests(InteropFixture lab)
{
    [Theory]
    [InlineData(3, 1, 1)]
    [InlineData(1, 3, 1)]
    [InlineData(3, 2, 2)]
    [InlineData(2, 3, 2)]
    public async Task Vms_behind_the_kernel_and_behind_an_agent_reach_each_other_by_ping(int from, int to, int vm)
    {
        var ping = await Shell.InNamespaceAsync(lab.VmNamespace(from, vm), $"ping -c 3 -i 0.2 -W 3 {lab.VmIp(to, vm)}");
        Assert.True(ping.ExitCode == 0, $"ping h{from}-vm{vm} → h{to}-vm{vm} failed:\n{ping.Output}\n{lab.LogTail()}");
    }

    [Theory]
    [InlineData(3, 1, 5501)]
    [InlineData(1, 3, 5502)]
    public async Task Tcp_with_offloads_on_carries_data_between_the_kernel_and_an_agent_in_valid_datagrams(int client, int server, int port)
    {
        // The lab's VMs keep their default offloads (TSO, GSO, tx checksumming) on both sides.
        await using var wire = await Underlay.WireLikeUplinksAsync(lab);
        await using var capture = await Underlay.CaptureAsync(lab, $"interop-tcp-{port}");
        await Traffic.TcpAsync(lab.VmNamespace(client, 1), lab.VmNamespace(server, 1), lab.VmIp(server, 1), port, "-n 2M");
        await capture.StopAsync();

        var frames = await Pcap.FieldsAsync(capture.File, "udp.port == 4789 && tcp", "frame.len");
        Assert.True(frames.Count > 500, $"expected the transfer on the underlay, saw {frames.Count} TCP datagrams");
        int longest = frames.Max(r => int.Parse(r[0], System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(longest <= 1514, $"an outer frame of {longest} bytes: segments must fit the 1500-byte underlay");
        var complaints = await Underlay.ComplaintsAsync(capture);
        Assert.True(complaints.Count == 0, $"tshark complains about {capture.Keep()}:\n{string.Join('\n', complaints.Take(20))}");
    }

    [Fact]
    public async Task The_agents_datagrams_decode_as_vxlan_and_the_kernels_are_accepted_by_the_agent()
    {
        await Shell.CheckedAsync(lab.VmNamespace(3, 1), "ip neigh flush all");
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), "ip neigh flush all");
        var before = Counters(await lab.Status(1).ReadFreshAsync()); // a baseline the agent wrote after this point

        await using var capture = await Underlay.CaptureAsync(lab, "interop");
        await Shell.CheckedAsync(lab.VmNamespace(3, 1), $"ping -c 5 -i 0.2 -W 3 {lab.VmIp(1, 1)}");
        await capture.StopAsync();
        var all = await Underlay.ReadAsync(capture);
        string h1 = lab.UnderlayIp(1), h3 = lab.UnderlayIp(3);

        // The agent's replies, as tshark reads them: VXLAN, VNI 5001, inner frame from h1-vm1 to h3-vm1.
        var fromAgent = all.Where(d => d.Source == h1 && d.Destination == h3).ToList();
        Assert.True(fromAgent.Count(d => d.IsIcmp) >= 5, $"the agent's ICMP replies are not on the underlay:\n{Underlay.Describe(all)}");
        Assert.All(fromAgent, d => Assert.Equal((InteropFixture.WebVni, 4789, lab.VmMac(1, 1)), (d.Vni!.Value, d.DestinationPort, d.InnerSourceMac)));
        Assert.All(fromAgent, d => Assert.InRange(d.SourcePort, 49152, 65535));

        // The kernel's requests ...
        var fromKernel = all.Where(d => d.Source == h3 && d.Destination == h1).ToList();
        Assert.True(fromKernel.Count(d => d.IsIcmp) >= 5, $"the kernel's ICMP requests are not on the underlay:\n{Underlay.Describe(all)}");
        Assert.All(fromKernel, d => Assert.Equal(InteropFixture.WebVni, d.Vni));

        // tshark judges the agents' datagrams whole. (The kernel's carry partial outer UDP checksums
        // in this capture: its host's uplink veth offloads them, so they are completed after br0.)
        var complaints = await Pcap.ComplaintsAsync(capture.File, $"udp.port == 4789 && (ip.src == {h1} || ip.src == {lab.UnderlayIp(2)})");
        if (complaints.Count > 0)
        {
            Assert.Fail($"tshark complains about {capture.Keep()}:\n{string.Join('\n', complaints)}");
        }

        // ... were accepted by h1's agent (received, delivered to vm1, no new drop) ...
        await Eventually.WaitAsync(async () =>
        {
            var now = await CountersAsync();
            return now.Received - before.Received >= fromKernel.Count && now.Delivered - before.Delivered >= 5;
        }, TimeSpan.FromSeconds(10), $"h1's agent counts the kernel's {fromKernel.Count} datagrams received and 5 frames delivered to vm1");
        var status = await lab.Status(1).ReadFreshAsync(); // written after the datagrams were counted: it holds any drop of theirs
        var after = Counters(status);
        Assert.True(after.Drops == before.Drops, $"h1's VTEP dropped datagrams: {before.Drops} → {after.Drops}\n{JsonSerializer.Serialize(status.Vtep)}");

        // ... and the kernel learned h1-vm1 behind h1 from the agent's datagrams.
        string fdb = await Shell.CheckedAsync(lab.HostNamespace(3), $"bridge fdb show dev vxlan{InteropFixture.WebVni}");
        Assert.Contains($"{lab.VmMac(1, 1)} dst {h1}", fdb, StringComparison.OrdinalIgnoreCase);
    }

    private async Task<(long Received, long Delivered, long Drops)> CountersAsync() => Counters(await lab.AgentStatusAsync(1));

    private static (long Received, long Delivered, long Drops) Counters(AgentStatus status)
    {
        long drops = status.Vtep.Where(c => c.Key.StartsWith("drop.", StringComparison.Ordinal)).Sum(c => c.Value);
        return (status.Vtep["received"], status.Port("vm1").Counters["delivered"], drops);
    }
}
