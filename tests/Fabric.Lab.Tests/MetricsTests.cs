using System.Globalization;
using System.Text.RegularExpressions;

namespace Fabric.Lab.Tests;

/// <summary>A small fabric to scrape: 2 hosts with one VM each in port group "web" (VNI 5001), one agent per host.</summary>
public sealed class MetricsFixture() : LabFabric(MetricsShape)
{
    public const long WebVni = 5001;

    private static LabShape MetricsShape { get; } = new()
    {
        Stem = "fm",
        Hosts = 2,
        Vms = 1,
        Groups = 1,
        PortGroups = [new("web", $$"""{"vni":{{WebVni}}}""")],
        Agents = new Dictionary<int, IReadOnlyList<PortBinding>> { [1] = [new("vm1", "web")], [2] = [new("vm1", "web")] },
        FloodLists = new Dictionary<long, int[]> { [WebVni] = [1, 2] },
    };

    /// <summary>Host <paramref name="host"/>'s agent management endpoint (where <c>/metrics</c> is).</summary>
    public Uri AgentEndpoint(int host) => new(Fabric.Agents[host]!.Spec.ManagementUrl);

    /// <summary>The silo's HTTP address.</summary>
    public Uri SiloEndpoint => Fabric.Silos[0]!.BaseAddress;
}

[CollectionDefinition(Name)]
public sealed class MetricsCollection : ICollectionFixture<MetricsFixture>
{
    public const string Name = "metrics lab";
}

/// <summary>
/// The silo's and the agents' <c>/metrics</c> as Prometheus sees them: the exposition passes Debian's
/// <c>promtool check metrics</c>, carries the series the README names, and a real Prometheus scrapes
/// both and sees an agent's frame counter rise after traffic.
/// </summary>
[Collection(MetricsCollection.Name)]
[Trait("Category", "Ops")]
public sealed class MetricsTests(MetricsFixture lab)
{
    private static readonly HttpClient Scraper = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task Silo_and_agent_metrics_pass_promtool_and_carry_the_series_operators_read()
    {
        await PingAsync(1, 2);
        // A datagram that is not VXLAN, to host 1's VTEP from host 2's underlay address: a drop by reason.
        await Shell.CheckedAsync(lab.HostNamespace(2), $"printf '\\x00\\x00\\x00\\x00\\x00\\x13\\x89\\x00abcdefghijklmnop' > /dev/udp/{lab.UnderlayIp(1)}/4789");
        (await lab.Http.GetAsync($"api/segments/{MetricsFixture.WebVni}/macs")).EnsureSuccessStatusCode();

        // Both VMs' MACs reach the MAC table (the agents publish within a learn interval).
        string silo = await Eventually.ValueAsync(
            () => ScrapeAsync(lab.SiloEndpoint),
            text => Value(text, "fabric_mac_table_entries", ("vni", "5001")) >= 2 && Value(text, "fabric_hosts", ("state", "alive")) == 2,
            TimeSpan.FromSeconds(20), "the silo's metrics show 2 MACs in VNI 5001 and 2 hosts alive");
        string agent = await Eventually.ValueAsync(
            () => ScrapeAsync(lab.AgentEndpoint(1)),
            text => Value(text, "fabric_vtep_dropped_datagrams_total", ("reason", "Malformed")) >= 1 && Value(text, "fabric_agent_learn_publish_duration_seconds_count") >= 1,
            TimeSpan.FromSeconds(20), "agent h1's metrics show the malformed datagram and a timed learn");

        foreach (var (what, text) in new[] { ("silo", silo), ("agent h1", agent) })
        {
            var check = await Promtool.CheckMetricsAsync(text);
            Assert.True(check.ExitCode == 0 && check.Output.Trim().Length == 0, $"promtool check metrics on the {what}'s /metrics exited {check.ExitCode}:\n{check.Output}\n--- exposition ---\n{text}");
        }

        // The silo: control plane sizes per VNI, hosts, the learn→push histogram, API latency by route.
        Assert.Equal(0, Value(silo, "fabric_mac_table_frozen_macs", ("vni", "5001")));
        Assert.Equal(0, Value(silo, "fabric_mac_table_duplicate_ips", ("vni", "5001")));
        Assert.NotNull(Value(silo, "fabric_mac_table_ip_bindings", ("vni", "5001")));
        Assert.NotNull(Value(silo, "fabric_mac_table_moves_total", ("vni", "5001")));
        Assert.Equal(0, Value(silo, "fabric_hosts", ("state", "dead")));
        Assert.Equal(1, Value(silo, "fabric_host_alive", ("host", "h1")));
        Assert.True(Value(silo, "fabric_mac_table_learn_push_duration_seconds_count") >= 1, silo);
        Assert.True(Value(silo, "http_server_request_duration_seconds_count", ("http_route", "/api/segments/{vni}/macs"), ("http_response_status_code", "200")) >= 1, silo);

        // The agent: frames and bytes per port, VNI and VTEP; its control plane.
        Assert.True(Value(agent, "fabric_port_received_frames_total", ("port", "vm1")) >= 3, agent);
        Assert.True(Value(agent, "fabric_port_received_bytes_total", ("port", "vm1")) >= 3 * 98, agent); // ICMP echo frames are 98 bytes
        Assert.True(Value(agent, "fabric_port_delivered_frames_total", ("port", "vm1")) >= 3, agent);
        Assert.True(Value(agent, "fabric_port_delivered_bytes_total", ("port", "vm1")) >= 3 * 98, agent);
        Assert.True(Value(agent, "fabric_vni_received_frames_total", ("vni", "5001")) >= 6, agent);
        Assert.True(Value(agent, "fabric_vni_encapsulated_bytes_total", ("vni", "5001")) >= 3 * 98, agent);
        Assert.True(Value(agent, "fabric_vtep_sent_datagrams_total", ("vtep", lab.UnderlayIp(1))) >= 3, agent);
        Assert.True(Value(agent, "fabric_vtep_received_bytes_total", ("vtep", lab.UnderlayIp(1))) >= 3 * (98 + 8), agent);
        Assert.Equal(1, Value(agent, "fabric_agent_connected"));
        Assert.True(Value(agent, "fabric_agent_applied_generation") >= 1, agent);
    }

    [Fact]
    public async Task Prometheus_scrapes_the_silo_and_an_agent_and_sees_frames_rise_after_a_ping()
    {
        await using var prometheus = await PrometheusServer.StartAsync(
            [new ScrapeTarget("fabric-silo", lab.SiloEndpoint), new ScrapeTarget("fabric-agent", lab.AgentEndpoint(1))],
            lab.Fabric.Log);
        try
        {
            await Eventually.WaitAsync(
                async () => await prometheus.QueryAsync("up", "job") is var up && up.GetValueOrDefault("fabric-silo") == 1 && up.GetValueOrDefault("fabric-agent") == 1,
                TimeSpan.FromSeconds(30), "Prometheus has scraped the silo and agent h1 (up == 1 for both)");

            const string Frames = """fabric_port_received_frames_total{job="fabric-agent",port="vm1"}""";
            var before = await Eventually.ValueAsync(() => prometheus.QueryAsync(Frames, "port"), r => r.ContainsKey("vm1"), TimeSpan.FromSeconds(30), "a stored sample of vm1's frame counter");
            await PingAsync(1, 2);
            await Eventually.WaitAsync(
                async () => (await prometheus.QueryAsync(Frames, "port")).GetValueOrDefault("vm1") >= before["vm1"] + 3,
                TimeSpan.FromSeconds(30), $"vm1's received frames in Prometheus rise by the 3 echo requests from {before["vm1"]}");

            var hosts = await prometheus.QueryAsync("""fabric_hosts{job="fabric-silo"}""", "state");
            Assert.Equal(2, hosts.GetValueOrDefault("alive"));
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException($"{ex.Message}\n--- prometheus ---\n{prometheus.Tail()}", ex);
        }
    }

    private async Task PingAsync(int from, int to)
    {
        var ping = await Shell.InNamespaceAsync(lab.VmNamespace(from, 1), $"ping -c 3 -i 0.2 -W 2 {lab.VmIp(to, 1)}");
        Assert.True(ping.ExitCode == 0, $"ping h{from}-vm1 → h{to}-vm1 failed:\n{ping.Output}\n{lab.LogTail()}");
    }

    private static async Task<string> ScrapeAsync(Uri endpoint)
    {
        using var response = await Scraper.GetAsync(new Uri(endpoint, "/metrics"));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>The value of the first sample of <paramref name="name"/> whose labels include <paramref name="labels"/>, or null.</summary>
    private static double? Value(string exposition, string name, params (string Key, string Value)[] labels)
    {
        foreach (Match sample in Regex.Matches(exposition, $@"^{Regex.Escape(name)}(?:\{{(?<labels>.*)\}})? (?<value>\S+)$", RegexOptions.Multiline))
        {
            string found = sample.Groups["labels"].Value;
            if (labels.All(l => found.Contains($"{l.Key}=\"{l.Value}\"", StringComparison.Ordinal)))
            {
                return double.Parse(sample.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return null;
    }
}
