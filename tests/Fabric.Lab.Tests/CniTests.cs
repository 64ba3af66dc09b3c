using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Fabric.Lab.Tests;

/// <summary>
/// 3 hosts × 1 configured VM (vm1 → web), port group web (VNI 5041) with the IPv4 pool
/// 10.41.0.0/22, gateway 10.41.0.1; agents with their local port API. Containers are namespaces
/// the tests make (<c>{prefix}-h{host}-vm{100+n}</c>, removed with the lab) or podman's.
/// </summary>
public sealed class CniFixture() : LabFabric(DefaultShape)
{
    public const long WebVni = 5041;

    public const string Gateway = "10.41.0.1";

    public static LabShape DefaultShape { get; } = new()
    {
        Stem = "cn",
        Hosts = 3,
        Vms = 1,
        Groups = 1,
        PortGroups = [new("web", $$"""{"vni":{{WebVni}},"ipv4":{"subnet":"10.41.0.0/22","gateway":"{{Gateway}}"} }""")],
        Agents = new Dictionary<int, IReadOnlyList<PortBinding>> { [1] = [new("vm1", "web")], [2] = [new("vm1", "web")], [3] = [new("vm1", "web")] },
        FloodLists = new Dictionary<long, int[]> { [WebVni] = [1, 2, 3] },
    };

    private int _next;

    /// <summary>A network config (or conflist, with <paramref name="chain"/> after fabric) for host <paramref name="host"/>'s agent, written to a file; its path.</summary>
    public string Conflist(int host, string version = "1.0.0", string chain = "")
    {
        string path = Path.Combine(Fabric.WorkDir, $"h{host}-{version}-{Guid.NewGuid():N}.conflist");
        File.WriteAllText(path, $$"""
            {"cniVersion":"{{version}}","name":"fabric-web","plugins":[
              {"type":"fabric","portGroup":"web","agentSocket":"{{Fabric.LocalApiSocket(host)}}","capabilities":{"mac":true,"ips":true} }{{chain}}]}
            """);
        return path;
    }

    /// <summary>A single-plugin network config for host <paramref name="host"/>, as stdin of a direct call.</summary>
    public string Config(int host, string version = "1.1.0", string portGroup = "web", string? extra = null)
        => $$"""{"cniVersion":"{{version}}","name":"fabric-web","type":"fabric","portGroup":"{{portGroup}}","agentSocket":"{{Fabric.LocalApiSocket(host)}}"{{extra}}}""";

    /// <summary>An empty container namespace on <paramref name="host"/>'s side of the lab; its path (CNI_NETNS).</summary>
    public async Task<string> NetnsAsync(int host)
    {
        string name = $"{Prefix}-h{host}-vm{100 + Interlocked.Increment(ref _next)}";
        var made = await Shell.RunAsync("ip", ["netns", "add", name], TimeSpan.FromSeconds(10));
        Assert.True(made.ExitCode == 0, made.Output);
        return $"/run/netns/{name}";
    }

    /// <summary>The host-side interfaces the plugin made on <paramref name="host"/> (named fab…).</summary>
    public async Task<string[]> PluginVethsAsync(int host)
        => [.. (await Shell.CheckedAsync(HostNamespace(host), "ip -o link show")).Split('\n').Select(l => l.Split(':', 3)).Where(p => p.Length == 3).Select(p => p[1].Trim().Split('@')[0]).Where(n => n.StartsWith("fab", StringComparison.Ordinal))];

    /// <summary>The port group's allocations (owner → address, without its prefix length) from the management API.</summary>
    public async Task<Dictionary<string, string>> AllocationsAsync()
        => (await Fabric.Api.GetJsonAsync("/api/switches/dvs/portgroups/web/allocations")).EnumerateArray()
            .ToDictionary(a => a.GetProperty("owner").GetString()!, a => a.GetProperty("address").GetString()!.Split('/')[0]);
}

// Run alone, after the parallel collections: its measurements (frames lost, restart time, ADD/DEL
// latency) are of a quiet lab, not of one sharing two cores with the other labs' iperf3 runs.
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CniCollection : ICollectionFixture<CniFixture>
{
    public const string Name = "cni lab";
}

/// <summary>
/// Issue 11, items 3 and 4: the <c>fabric</c> CNI plugin, driven through libcni (cnitool) as
/// runtimes drive it, and directly for spec 1.1.0's GC and STATUS and for bad input.
/// </summary>
[Collection(CniCollection.Name)]
[Trait("Category", "Cni")]
public sealed class CniTests(CniFixture lab, ITestOutputHelper output)
{
    private static readonly TimeSpan Converge = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Containers_on_two_hosts_added_through_libcni_with_a_chain_reach_each_other_check_passes_and_del_leaves_nothing()
    {
        string chain = """,{"type":"tuning","sysctl":{"net.ipv4.conf.eth0.arp_notify":"1"}},{"type":"portmap","capabilities":{"portMappings":true}},{"type":"bandwidth","ingressRate":100000000,"ingressBurst":1000000}""";
        string list1 = lab.Conflist(1, chain: chain), list2 = lab.Conflist(2, chain: chain);
        string ns1 = await lab.NetnsAsync(1), ns2 = await lab.NetnsAsync(2);
        string id1 = $"ctr{Guid.NewGuid():N}"[..16], id2 = $"ctr{Guid.NewGuid():N}"[..16];
        const string Mac1 = "02:41:00:00:00:01";

        var add1 = await CniRuntime.ToolAsync(lab.HostNamespace(1), "add", list1, ns1, id1, capArgs: $$"""{"mac":"{{Mac1}}","portMappings":[{"hostPort":18080,"containerPort":80,"protocol":"tcp"}]}""");
        Assert.True(add1.ExitCode == 0, add1.Output);
        var add2 = await CniRuntime.ToolAsync(lab.HostNamespace(2), "add", list2, ns2, id2);
        Assert.True(add2.ExitCode == 0, add2.Output);
        output.WriteLine(add1.Output);

        // The result: host veth and container interface, an address of the pool with its gateway, a default route.
        var result = add1.Json!;
        Assert.Equal("1.0.0", result["cniVersion"]!.GetValue<string>());
        var container = result["interfaces"]!.AsArray().Single(i => i!["sandbox"] is not null)!;
        Assert.Equal(("eth0", Mac1, ns1), (container["name"]!.GetValue<string>(), container["mac"]!.GetValue<string>(), container["sandbox"]!.GetValue<string>()));
        string ip1 = result["ips"]![0]!["address"]!.GetValue<string>(), ip2 = add2.Json!["ips"]![0]!["address"]!.GetValue<string>();
        Assert.StartsWith("10.41.", ip1, StringComparison.Ordinal);
        Assert.EndsWith("/22", ip1, StringComparison.Ordinal);
        Assert.Equal(CniFixture.Gateway, result["ips"]![0]!["gateway"]!.GetValue<string>());
        Assert.Contains(result["routes"]!.AsArray(), r => r!["dst"]!.GetValue<string>() == "0.0.0.0/0" && r["gw"]!.GetValue<string>() == CniFixture.Gateway);

        // Inside: MTU of the switch, the address, the default route; across the fabric to the other host's container.
        string link = await Shell.CheckedAsync(Name(ns1), "ip -o link show eth0; ip -o addr show eth0; ip route");
        Assert.Contains("mtu 1450", link, StringComparison.Ordinal);
        Assert.Contains(ip1, link, StringComparison.Ordinal);
        Assert.Contains($"default via {CniFixture.Gateway}", link, StringComparison.Ordinal);
        await Shell.CheckedAsync(Name(ns1), $"ping -c 3 -i 0.2 -W 2 {ip2.Split('/')[0]}");

        // The chain ran on the plugin's result: tuning's sysctl, portmap's DNAT to the address, bandwidth's tbf on the host veth.
        Assert.Equal("1", (await Shell.CheckedAsync(Name(ns1), "cat /proc/sys/net/ipv4/conf/eth0/arp_notify")).Trim());
        Assert.Contains($"{ip1.Split('/')[0]}:80", await Shell.CheckedAsync(lab.HostNamespace(1), "iptables -t nat -S"), StringComparison.Ordinal);
        string hostVeth = result["interfaces"]!.AsArray().Single(i => i!["sandbox"] is null)!["name"]!.GetValue<string>();
        Assert.Contains("tbf", await Shell.CheckedAsync(lab.HostNamespace(1), $"tc qdisc show dev {hostVeth}"), StringComparison.Ordinal);

        // CHECK through libcni (it sends the cached result as prevResult).
        var check = await CniRuntime.ToolAsync(lab.HostNamespace(1), "check", list1, ns1, id1);
        Assert.True(check.ExitCode == 0, check.Output);

        // DEL, twice: the second finds nothing to do and still succeeds.
        foreach (int round in new[] { 1, 2 })
        {
            var del = await CniRuntime.ToolAsync(lab.HostNamespace(1), "del", list1, ns1, id1);
            Assert.True(del.ExitCode == 0, $"DEL round {round}: {del.Output}");
        }

        Assert.True((await CniRuntime.ToolAsync(lab.HostNamespace(2), "del", list2, ns2, id2)).ExitCode == 0);
        Assert.DoesNotContain(hostVeth, await lab.PluginVethsAsync(1));
        Assert.DoesNotContain(await lab.AllocationsAsync(), a => a.Key.StartsWith(id1, StringComparison.Ordinal) || a.Key.StartsWith(id2, StringComparison.Ordinal));
        using var agent = lab.Fabric.LocalPorts(1);
        Assert.DoesNotContain((await agent.ListAsync()).Body!.AsArray(), p => p!["interface"]!.GetValue<string>() == hostVeth);
        await Eventually.WaitAsync(async () => await lab.MacEntryAsync(CniFixture.WebVni, Mac1) is null, Converge, $"{Mac1} withdrawn after DEL");
    }

    [Theory]
    [InlineData("1.1.0")]
    [InlineData("1.0.0")]
    [InlineData("0.4.0")]
    public async Task Add_answers_in_the_configs_version_check_verifies_and_gc_releases_what_is_not_valid(string version)
    {
        string ns = await lab.NetnsAsync(3);
        string id = $"v{version.Replace(".", string.Empty, StringComparison.Ordinal)}{Guid.NewGuid():N}"[..16];
        string config = lab.Config(3, version, extra: ",\"dns\":{\"nameservers\":[\"10.41.0.53\"],\"search\":[\"web.fabric\"]}");

        var versionAnswer = await CniRuntime.PluginAsync(lab.HostNamespace(3), "VERSION", config);
        Assert.Equal(0, versionAnswer.ExitCode);
        Assert.Equal(version, versionAnswer.Json!["cniVersion"]!.GetValue<string>());
        Assert.Equal(["0.4.0", "1.0.0", "1.1.0"], versionAnswer.Json["supportedVersions"]!.AsArray().Select(v => v!.GetValue<string>()));

        var add = await CniRuntime.PluginAsync(lab.HostNamespace(3), "ADD", config, id, ns);
        Assert.True(add.ExitCode == 0, add.Output);
        var result = add.Json!;
        Assert.Equal(version, result["cniVersion"]!.GetValue<string>());
        var ip = result["ips"]![0]!;
        Assert.Equal(1, ip["interface"]!.GetValue<int>());
        Assert.Equal(version == "0.4.0" ? "4" : null, ip["version"]?.GetValue<string>());
        Assert.Equal(version == "1.1.0" ? 1450 : null, result["interfaces"]![1]!["mtu"]?.GetValue<int>());
        Assert.Equal("10.41.0.53", result["dns"]!["nameservers"]![0]!.GetValue<string>());
        Assert.Equal("web.fabric", result["dns"]!["search"]![0]!.GetValue<string>());

        // CHECK with the result as prevResult; then with the container's address gone it fails, as a CNI error.
        string withPrevious = config[..^1] + $",\"prevResult\":{result.ToJsonString()}}}";
        var check = await CniRuntime.PluginAsync(lab.HostNamespace(3), "CHECK", withPrevious, id, ns);
        Assert.True(check.ExitCode == 0, check.Output);
        await Shell.CheckedAsync(Name(ns), $"ip addr del {ip["address"]!.GetValue<string>()} dev eth0");
        var broken = await CniRuntime.PluginAsync(lab.HostNamespace(3), "CHECK", withPrevious, id, ns);
        Assert.NotEqual(0, broken.ExitCode);
        Assert.Equal(101, broken.ErrorCode);

        if (version != "1.1.0")
        {
            // GC and STATUS are spec 1.1.0's: refused for an older config, and DEL cleans up.
            Assert.Equal(1, (await CniRuntime.PluginAsync(lab.HostNamespace(3), "GC", config)).ErrorCode);
            Assert.Equal(0, (await CniRuntime.PluginAsync(lab.HostNamespace(3), "DEL", config, id, ns)).ExitCode);
            return;
        }

        // GC: the attachment is not among the valid ones, so its port, address and veth go.
        string owner = $"{id}/eth0";
        Assert.Contains(owner, (await lab.AllocationsAsync()).Keys);
        string gc = config[..^1] + ""","cni.dev/valid-attachments":[{"containerID":"someone-else","ifname":"eth0"}]}""";
        var collected = await CniRuntime.PluginAsync(lab.HostNamespace(3), "GC", gc);
        Assert.True(collected.ExitCode == 0, collected.Output);
        Assert.DoesNotContain(owner, (await lab.AllocationsAsync()).Keys);
        Assert.Empty(await lab.PluginVethsAsync(3));

        var status = await CniRuntime.PluginAsync(lab.HostNamespace(3), "STATUS", config);
        Assert.Equal((0, string.Empty), (status.ExitCode, status.Output));
    }

    [Theory]
    [InlineData("ADD", """{"cniVersion":"0.3.1","name":"n","type":"fabric","portGroup":"web"}""", 1)]
    [InlineData("ADD", """{"cniVersion":"1.1.0","name":"n","type":"fabric"}""", 7)]
    [InlineData("ADD", """{"cniVersion":"1.1.0","name":"n","type":"fabric","portGroup":"nope","agentSocket":"AGENT"}""", 7)]
    [InlineData("ADD", """{"cniVersion":"1.1.0","name":"n","type":"fabric","portGroup":"web","agentSocket":"AGENT","ipam":{"type":"host-local"}}""", 2)]
    [InlineData("ADD", """{"cniVersion":"1.1.0","name":"n","type":"fabric","portGroup":"web","agentSocket":"/nonexistent/agent.sock"}""", 11)]
    [InlineData("ADD", """not json""", 6)]
    [InlineData("ADD", """{"cniVersion":"1.1.0","name":"n","type":"fabric","portGroup":"web","agentSocket":"AGENT","mac":"ff:ff:ff:ff:ff:ff"}""", 7)]
    [InlineData("STATUS", """{"cniVersion":"1.1.0","name":"n","type":"fabric","portGroup":"web","agentSocket":"/nonexistent/agent.sock"}""", 50)]
    [InlineData("FROB", """{"cniVersion":"1.1.0","name":"n","type":"fabric","portGroup":"web"}""", 4)]
    public async Task Bad_input_is_a_cni_error_with_its_code_and_message_never_a_stack_trace_and_leaves_nothing(string command, string config, int code)
    {
        string ns = await lab.NetnsAsync(3);
        string id = $"bad{Guid.NewGuid():N}"[..16];
        var before = await lab.AllocationsAsync();
        var veths = await lab.PluginVethsAsync(3);

        var answer = await CniRuntime.PluginAsync(lab.HostNamespace(3), command, config.Replace("AGENT", lab.Fabric.LocalApiSocket(3), StringComparison.Ordinal), id, ns);
        output.WriteLine(answer.Output);
        Assert.NotEqual(0, answer.ExitCode);
        Assert.Equal(code, answer.ErrorCode);
        Assert.False(string.IsNullOrWhiteSpace(answer.Json!["msg"]?.GetValue<string>()));
        Assert.DoesNotContain("   at ", answer.Output, StringComparison.Ordinal);
        Assert.Equal(before, await lab.AllocationsAsync());
        Assert.Equal(veths, await lab.PluginVethsAsync(3));
        Assert.DoesNotContain(Plugin(id), veths);
    }

    [Fact]
    public async Task A_missing_namespace_or_container_id_is_refused_and_del_of_what_never_existed_succeeds()
    {
        string config = lab.Config(3);
        Assert.Equal(3, (await CniRuntime.PluginAsync(lab.HostNamespace(3), "ADD", config, "ghost1", "/run/netns/does-not-exist")).ErrorCode);
        Assert.Equal(4, (await CniRuntime.PluginAsync(lab.HostNamespace(3), "ADD", config, null, await lab.NetnsAsync(3))).ErrorCode);
        var del = await CniRuntime.PluginAsync(lab.HostNamespace(3), "DEL", config, "ghost2", "/run/netns/does-not-exist");
        Assert.Equal((0, string.Empty), (del.ExitCode, del.Output));
    }

    [Fact]
    public async Task Two_hundred_containers_on_three_hosts_with_fifty_concurrent_adds_a_host_get_distinct_addresses_and_leave_nothing_behind()
    {
        const int PerHost = 50;
        var lists = Enumerable.Range(1, 3).ToDictionary(h => h, h => lab.Conflist(h));
        var addMs = new List<double>();
        var delMs = new List<double>();
        var containers = new List<(int Host, string Netns, string Id, string Address)>();
        var gate = new Lock();

        async Task AddAsync(int host)
        {
            string ns = await lab.NetnsAsync(host);
            string id = $"s{host}{Guid.NewGuid():N}"[..16];
            var clock = Stopwatch.StartNew();
            var add = await CniRuntime.ToolAsync(lab.HostNamespace(host), "add", lists[host], ns, id);
            double ms = clock.Elapsed.TotalMilliseconds;
            Assert.True(add.ExitCode == 0, add.Output);
            lock (gate)
            {
                addMs.Add(ms);
                containers.Add((host, ns, id, add.Json!["ips"]![0]!["address"]!.GetValue<string>()));
            }
        }

        try
        {
            // 3 hosts × 50 ADDs at once: the fabric's IPAM hands out no address twice.
            await Task.WhenAll(Enumerable.Range(1, 3).SelectMany(h => Enumerable.Range(0, PerHost).Select(_ => AddAsync(h))));
            Assert.Equal(3 * PerHost, containers.Select(c => c.Address).Distinct().Count());

            // 50 more, one host after another, for the latency of an ADD on a quiet host.
            addMs.Clear();
            foreach (int host in Enumerable.Range(0, 50).Select(i => 1 + (i % 3)))
            {
                await AddAsync(host);
            }

            Assert.Equal(200, containers.Select(c => c.Address).Distinct().Count());
            var allocations = await lab.AllocationsAsync();
            Assert.Equal(200, allocations.Count(a => a.Key.StartsWith('s')));

            // 190 removed through DEL; 10 vanish without one (their namespace deleted: a runtime that
            // crashed), which only GC can clean.
            foreach (var (host, ns, id, _) in containers.Skip(10))
            {
                var clock = Stopwatch.StartNew();
                var del = await CniRuntime.ToolAsync(lab.HostNamespace(host), "del", lists[host], ns, id);
                delMs.Add(clock.Elapsed.TotalMilliseconds);
                Assert.True(del.ExitCode == 0, del.Output);
            }

            foreach (var (_, ns, _, _) in containers.Take(10))
            {
                Assert.Equal(0, (await Shell.RunAsync("ip", ["netns", "del", Name(ns)], TimeSpan.FromSeconds(10))).ExitCode);
            }

            Assert.Equal(10, (await lab.AllocationsAsync()).Count(a => a.Key.StartsWith('s')));
            foreach (int host in Enumerable.Range(1, 3))
            {
                string gc = lab.Config(host)[..^1] + ""","cni.dev/valid-attachments":[]}""";
                var collected = await CniRuntime.PluginAsync(lab.HostNamespace(host), "GC", gc);
                Assert.True(collected.ExitCode == 0, collected.Output);
            }

            Assert.DoesNotContain(await lab.AllocationsAsync(), a => a.Key.StartsWith('s'));
            foreach (int host in Enumerable.Range(1, 3))
            {
                Assert.Empty(await lab.PluginVethsAsync(host));
                using var agent = lab.Fabric.LocalPorts(host);
                Assert.Equal(["vm1"], (await agent.ListAsync()).Body!.AsArray().Select(p => p!["interface"]!.GetValue<string>()));
                var registered = await lab.Fabric.Api.GetJsonAsync($"/api/hosts/h{host}");
                Assert.Equal(["vm1"], registered.GetProperty("ports").EnumerateArray().Select(p => p.GetProperty("name").GetString()));
            }

            output.WriteLine($"CNI ADD through libcni, one at a time (ms) p50/p99: {Percentiles.Of(addMs, 50):F0}/{Percentiles.Of(addMs, 99):F0}; DEL p50/p99: {Percentiles.Of(delMs, 50):F0}/{Percentiles.Of(delMs, 99):F0}");
            output.WriteLine("150 concurrent ADDs on 3 hosts: 150 distinct addresses; 200 containers: 190 DEL + 10 GC, nothing left (allocations, veths, ports, registrations)");
        }
        finally
        {
            // Whatever happened, the namespaces go (their veths with them) and GC frees the rest.
            foreach (var (_, ns, _, _) in containers)
            {
                await Shell.RunAsync("ip", ["netns", "del", Name(ns)], TimeSpan.FromSeconds(10));
            }

            foreach (int host in Enumerable.Range(1, 3))
            {
                await CniRuntime.PluginAsync(lab.HostNamespace(host), "GC", lab.Config(host)[..^1] + ""","cni.dev/valid-attachments":[]}""");
            }
        }
    }

    private static string Name(string netnsPath) => Path.GetFileName(netnsPath);

    /// <summary>The host veth the plugin names for attachment <paramref name="id"/>/eth0 (see the plugin's HostInterface).</summary>
    private static string Plugin(string id) => "fab" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{id}/eth0")))[..12];
}
