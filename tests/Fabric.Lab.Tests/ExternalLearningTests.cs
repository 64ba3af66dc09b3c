using System.Globalization;
using Xunit.Abstractions;

namespace Fabric.Lab.Tests;

/// <summary>
/// 3 hosts × 2 VMs: h1 and h2 run agents (vm1 → web 5001, vm2 → db 5002); h3 is a Linux kernel
/// VTEP (vxlan5001/vxlan5002 with bridges, learning, flooding to h1 and h2) registered as an
/// external VTEP of web through the API, with no static MACs: the agents learn h3's VMs from its
/// datagrams (RFC 7348 §4.1).
/// </summary>
public sealed class ExternalLearningFixture() : LabFabric(DefaultShape)
{
    public const long WebVni = 5001;
    public const long DbVni = 5002;

    public static LabShape DefaultShape { get; } = new()
    {
        Stem = "fx",
        Hosts = 3,
        PortGroups = [new("web", $$"""{"vni":{{WebVni}}}"""), new("db", $$"""{"vni":{{DbVni}}}""")],
        Agents = new Dictionary<int, IReadOnlyList<PortBinding>> { [1] = LabShape.WebAndDb, [2] = LabShape.WebAndDb },
        FloodLists = new Dictionary<long, int[]> { [WebVni] = [1, 2], [DbVni] = [1, 2] },
        Kernel = ["--vni", $"{WebVni},{DbVni}", "--hosts-subset", "h3", "--quiet"],
        AfterConverged = async lab =>
        {
            string kernel = lab.UnderlayIp(3);
            await lab.PutAsync($"api/segments/{WebVni}/vteps/{kernel}", "{}");
            await Eventually.WaitAsync(
                async () => (await lab.AgentStatusAsync(1)).Segment(WebVni)?.FloodList.Contains(kernel) == true
                    && (await lab.AgentStatusAsync(2)).Segment(WebVni)?.FloodList.Contains(kernel) == true,
                TimeSpan.FromSeconds(30),
                "both agents flood web to the kernel VTEP");
        },
    };
}

[CollectionDefinition(Name)]
public sealed class ExternalLearningCollection : ICollectionFixture<ExternalLearningFixture>
{
    public const string Name = "external learning lab";
}

/// <summary>
/// Issue 9, case 4: MACs behind an external VTEP are learned from its datagrams, so unicast to them
/// goes to that VTEP alone instead of being flooded to every VTEP of the segment.
/// </summary>
[Collection(ExternalLearningCollection.Name)]
[Trait("Category", "Interop")]
public sealed class ExternalLearningTests(ExternalLearningFixture lab, ITestOutputHelper output)
{
    private const long Web = ExternalLearningFixture.WebVni;

    [Fact]
    public async Task Unicast_to_a_vm_behind_an_external_vtep_goes_only_to_that_vtep_once_both_ends_have_talked()
    {
        await TalkBothWaysAsync();
        string h1 = lab.UnderlayIp(1), h2 = lab.UnderlayIp(2), h3 = lab.UnderlayIp(3);
        const int port = 5601;
        var server = Shell.InNamespaceAsync(lab.VmNamespace(3, 1), $"iperf3 -s -1 -p {port}", TimeSpan.FromSeconds(40));
        await Eventually.WaitAsync(
            async () => (await Shell.InNamespaceAsync(lab.VmNamespace(3, 1), $"ss -Htln 'sport = :{port}'")).Output.Contains("LISTEN", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "iperf3 listening on h3-vm1");

        await using var capture = await Underlay.CaptureAsync(lab, "external-unicast");
        var client = await Shell.InNamespaceAsync(lab.VmNamespace(1, 1), $"iperf3 -c {lab.VmIp(3, 1)} -p {port} -u -b 2M -l 1000 -t 3 --connect-timeout 5000", TimeSpan.FromSeconds(30));
        await capture.StopAsync();
        var served = await server;
        Assert.True(client.ExitCode == 0, $"iperf3 -u h1-vm1 → h3-vm1 failed:\n{client.Output}\nserver:\n{served.Output}");

        // The stream's datagrams (inner UDP to the iperf3 port) that h1 sent, by outer destination.
        string portText = port.ToString(CultureInfo.InvariantCulture);
        var stream = (await Underlay.ReadAsync(capture)).Where(d => d.Source == h1 && d.UdpDestinationPorts.Contains(portText)).ToList();
        int toKernel = stream.Count(d => d.Destination == h3), toOtherAgent = stream.Count(d => d.Destination == h2);
        double share = toKernel == 0 ? double.NaN : 100.0 * toOtherAgent / toKernel;
        output.WriteLine($"3 s UDP stream h1-vm1 → h3-vm1: {toKernel} datagrams to h3 (the external VTEP), {toOtherAgent} to h2 ({share:F1} %)");
        Assert.True(toKernel >= 100, $"only {toKernel} datagrams of the stream went to h3:\n{Underlay.Describe(stream)}");
        Assert.True(toOtherAgent < toKernel / 100.0, $"{toOtherAgent} of the stream's {toKernel} datagrams to h3 also went to h2 ({share:F1} %, at most 1 % allowed)");
    }

    [Fact]
    public async Task A_vm_behind_an_external_vtep_is_learned_into_the_mac_table_at_its_external_host_and_listed_by_the_agents()
    {
        await TalkBothWaysAsync();
        string h3 = lab.UnderlayIp(3), mac = lab.VmMac(3, 1);
        await Eventually.AssertAsync(
            async () =>
            {
                var entry = await lab.MacEntryAsync(Web, mac) ?? throw new Xunit.Sdk.XunitException($"no entry for {mac} in the MAC table of {Web}");
                Assert.Equal(($"external-{h3}", "external", h3), (entry.GetProperty("hostId").GetString(), entry.GetProperty("port").GetString(), entry.GetProperty("vtep").GetString()));
            },
            TimeSpan.FromSeconds(10),
            $"the MAC table of {Web} holds {mac} at host external-{h3}, port external");

        foreach (int host in new[] { 1, 2 })
        {
            await Eventually.AssertAsync(
                async () =>
                {
                    var status = await lab.AgentStatusAsync(host);
                    Assert.NotNull(status.ExternalMacs);
                    Assert.Contains(status.ExternalMacs!, m => m.Vni == Web && string.Equals(m.Mac, mac, StringComparison.OrdinalIgnoreCase) && m.Vtep == h3);
                },
                TimeSpan.FromSeconds(10),
                $"h{host}'s status lists {mac} behind {h3} in externalMacs");
        }
    }

    /// <summary>h1-vm1 and h2-vm1 ping h3-vm1 and h3-vm1 pings them back.</summary>
    private async Task TalkBothWaysAsync()
    {
        foreach (int agent in new[] { 1, 2 })
        {
            foreach (var (from, to) in new[] { (agent, 3), (3, agent) })
            {
                var ping = await Shell.InNamespaceAsync(lab.VmNamespace(from, 1), $"ping -c 2 -i 0.2 -W 2 {lab.VmIp(to, 1)}");
                Assert.True(ping.ExitCode == 0, $"ping h{from}-vm1 → h{to}-vm1 failed:\n{ping.Output}\n{lab.LogTail()}");
            }
        }
    }
}
