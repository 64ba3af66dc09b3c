using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Fabric.Lab.Tests;

/// <summary>
/// 2 hosts × 1 configured VM (vm1 → web, VNI 5031), one silo; agents with their local port API and
/// runtime ports file (<see cref="FabricDeployment.StartAgent"/>). Containers are namespaces the test
/// makes: <c>{prefix}-h{host}-vm{50+n}</c> (removed with the lab), each with an <c>eth0</c> whose
/// host end <c>c{n}</c> is attached at run time.
/// </summary>
public sealed class RuntimePortFixture() : LabFabric(DefaultShape)
{
    public const long WebVni = 5031;

    public static LabShape DefaultShape { get; } = new()
    {
        Stem = "rp",
        Hosts = 2,
        Vms = 1,
        Groups = 1,
        PortGroups = [new("web", $$"""{"vni":{{WebVni}}}""")],
        Agents = new Dictionary<int, IReadOnlyList<PortBinding>> { [1] = [new("vm1", "web")], [2] = [new("vm1", "web")] },
        FloodLists = new Dictionary<long, int[]> { [WebVni] = [1, 2] },
    };

    /// <summary>Veth pairs <c>{stem}{i}</c> / <c>{stem}{i}-peer</c>, i in 0..count-1, both ends in <paramref name="host"/>'s namespace, up.</summary>
    public Task VethsAsync(int host, string stem, int count)
    {
        string batch = string.Join('\n', Enumerable.Range(0, count).Select(i => $"link add {stem}{i} type veth peer name {stem}{i}-peer\nlink set {stem}{i} up"));
        return Shell.CheckedAsync(HostNamespace(host), $"ip -batch - <<'EOF'\n{batch}\nEOF");
    }

    /// <summary>
    /// A container on <paramref name="host"/>: namespace, and a veth whose end <c>eth0</c> inside has
    /// <paramref name="mac"/> and <paramref name="ip"/>/24, MTU 1450; the host end <c>c{n}</c> is up, not attached.
    /// </summary>
    public async Task<string> ContainerAsync(int host, int n, string mac, string ip)
    {
        string ns = $"{Prefix}-h{host}-vm{50 + n}";
        string hostNs = HostNamespace(host);
        var made = await Shell.RunAsync("bash", ["-c", $"ip netns add {ns} && ip -n {hostNs} link add c{n} mtu 1450 type veth peer name eth0 netns {ns} && ip -n {hostNs} link set c{n} up"], TimeSpan.FromSeconds(30));
        Assert.True(made.ExitCode == 0, made.Output);
        await Shell.CheckedAsync(ns, $"ip link set lo up && ip link set eth0 address {mac} mtu 1450 up && ip addr add {ip}/24 dev eth0");
        return ns;
    }
}

// Run alone, after the parallel collections: its measurements (frames lost, restart time, ADD/DEL
// latency) are of a quiet lab, not of one sharing two cores with the other labs' iperf3 runs.
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RuntimePortCollection : ICollectionFixture<RuntimePortFixture>
{
    public const string Name = "runtime port lab";
}

/// <summary>
/// Issue 11, item 1: ports attached and detached while the agent runs, through its local port API;
/// registered with the host grain like configured ports, persisted on the host, and never disturbing
/// the other ports.
/// </summary>
[Collection(RuntimePortCollection.Name)]
[Trait("Category", "Cni")]
public sealed class RuntimePortTests(RuntimePortFixture lab, ITestOutputHelper output)
{
    private static readonly TimeSpan Converge = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task A_port_attached_at_run_time_forwards_across_hosts_is_registered_and_persisted_and_detaching_withdraws_it()
    {
        string macA = "02:aa:00:00:01:01", macB = "02:aa:00:00:02:01";
        string ipA = "192.168.100.201", ipB = "192.168.100.202";
        string a = await lab.ContainerAsync(1, 1, macA, ipA);
        await lab.ContainerAsync(2, 1, macB, ipB);
        using var h1 = lab.Fabric.LocalPorts(1);
        using var h2 = lab.Fabric.LocalPorts(2);

        var attached = await h1.AttachAsync("c1", "web", macA, [ipA], owner: "ctr-a/eth0");
        Assert.Equal(HttpStatusCode.Created, attached.Status);
        Assert.True(attached.Body!["registered"]!.GetValue<bool>(), attached.Body.ToJsonString());
        Assert.Equal(HttpStatusCode.Created, (await h2.AttachAsync("c1", "web", macB, [ipB], owner: "ctr-b/eth0")).Status);

        // Attaching again the same way is a no-op (CNI retries); another way is a conflict.
        Assert.Equal(HttpStatusCode.OK, (await h1.AttachAsync("c1", "web", macA, [ipA], owner: "ctr-a/eth0")).Status);
        var conflict = await h1.AttachAsync("c1", "web", owner: "someone-else/eth0");
        Assert.Equal((HttpStatusCode.Conflict, "interface"), (conflict.Status, conflict.Text("field")));

        // The given MAC and address are published before the container says anything: h2's agent
        // already has the MAC behind h1 and answers ARP for the address.
        await Eventually.WaitAsync(async () => await lab.RemoteMacAsync(2, RuntimePortFixture.WebVni, macA) == lab.UnderlayIp(1), Converge, $"h2 has {macA} behind h1");
        await Shell.CheckedAsync(a, $"ping -c 3 -i 0.2 -W 2 {ipB}");
        await Shell.CheckedAsync(a, $"ping -c 2 -i 0.2 -W 2 {lab.VmIp(2, 1)}");

        // Registered with the host grain like a configured port, and saved on the host.
        var host = await lab.Fabric.Api.GetJsonAsync("/api/hosts/h1");
        Assert.Contains(host.GetProperty("ports").EnumerateArray(), p => p.GetProperty("name").GetString() == "c1" && p.GetProperty("portGroup").GetString() == "web");
        var saved = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(lab.Fabric.WorkDir, "h1-ports.json"))).RootElement;
        Assert.Contains(saved.GetProperty("ports").EnumerateArray(), p => p.GetProperty("interface").GetString() == "c1" && p.GetProperty("owner").GetString() == "ctr-a/eth0");

        // Detached: gone from the host's registration, its MAC withdrawn everywhere, no more traffic.
        var detached = await h1.DetachAsync("c1");
        Assert.Equal(HttpStatusCode.OK, detached.Status);
        Assert.True(detached.Body!["registered"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.NotFound, (await h1.DetachAsync("c1")).Status);
        await Eventually.WaitAsync(async () => await lab.MacEntryAsync(RuntimePortFixture.WebVni, macA) is null, Converge, $"{macA} withdrawn from the MAC table");
        await Eventually.WaitAsync(async () => await lab.RemoteMacAsync(2, RuntimePortFixture.WebVni, macA) is null, Converge, $"h2 forgot {macA}");
        host = await lab.Fabric.Api.GetJsonAsync("/api/hosts/h1");
        Assert.DoesNotContain(host.GetProperty("ports").EnumerateArray(), p => p.GetProperty("name").GetString() == "c1");
        Assert.NotEqual(0, (await Shell.InNamespaceAsync(a, $"ping -c 2 -i 0.2 -W 1 {ipB}")).ExitCode);
        Assert.Equal(HttpStatusCode.OK, (await h2.DetachAsync("c1")).Status);
    }

    [Theory]
    [InlineData("nosuchif", "web", null, HttpStatusCode.NotFound, "interface")]
    [InlineData("vm1", "web", null, HttpStatusCode.Conflict, "interface")]
    [InlineData("c9", "nope", null, HttpStatusCode.NotFound, "portGroup")]
    [InlineData("c9", "web", "01:00:5e:00:00:01", HttpStatusCode.BadRequest, "mac")]
    [InlineData("c9", "web", "0a:fa:b0:00:00:01", HttpStatusCode.BadRequest, "mac")] // the anycast gateway's: the fabric's own
    [InlineData("this-name-is-too-long", "web", null, HttpStatusCode.BadRequest, "interface")]
    public async Task A_bad_attach_is_refused_naming_the_field_and_changes_nothing(string interfaceName, string portGroup, string? mac, HttpStatusCode status, string field)
    {
        await Shell.CheckedAsync(lab.HostNamespace(1), "ip link show c9 >/dev/null 2>&1 || (ip link add c9 type veth peer name c9-peer && ip link set c9 up)");
        using var h1 = lab.Fabric.LocalPorts(1);
        var before = (await h1.ListAsync()).Body!.ToJsonString();

        var answer = await h1.AttachAsync(interfaceName, portGroup, mac);
        Assert.Equal((status, field), (answer.Status, answer.Text("field")));
        Assert.False(string.IsNullOrEmpty(answer.Text("error")));
        Assert.Equal(before, (await h1.ListAsync()).Body!.ToJsonString());
        Assert.Equal(HttpStatusCode.Conflict, (await h1.DetachAsync("vm1")).Status); // configured: not through the API
    }

    [Fact]
    public async Task A_port_may_override_its_port_groups_vlan_policy_and_a_bad_override_is_refused()
    {
        await Shell.CheckedAsync(lab.HostNamespace(1), "ip link show c10 >/dev/null 2>&1 || (ip link add c10 type veth peer name c10-peer && ip link set c10 up)");
        using var h1 = lab.Fabric.LocalPorts(1);
        var bad = await h1.AttachAsync("c10", "web", vlan: new { mode = "trunk", trunkRanges = "100-5000" });
        Assert.Equal((HttpStatusCode.BadRequest, "vlan.trunkRanges"), (bad.Status, bad.Text("field")));

        var attached = await h1.AttachAsync("c10", "web", vlan: new { mode = "trunk", trunkRanges = "100-199", nativeVlan = 150 });
        Assert.Equal(HttpStatusCode.Created, attached.Status);
        Assert.Equal(("trunk", "100-199", 150), (attached.Body!["vlan"]!["mode"]!.GetValue<string>(), attached.Body["vlan"]!["trunkRanges"]!.GetValue<string>(), attached.Body["vlan"]!["nativeVlan"]!.GetValue<int>()));

        // Attaching it again with another override is a conflict, not a silent change.
        Assert.Equal(HttpStatusCode.Conflict, (await h1.AttachAsync("c10", "web", vlan: new { mode = "access" })).Status);
        Assert.Equal(HttpStatusCode.OK, (await h1.DetachAsync("c10")).Status);
    }

    [Fact]
    public async Task A_hundred_ports_attach_and_detach_without_losing_a_frame_between_two_other_vms()
    {
        const int Count = 100;
        string hostNs = lab.HostNamespace(1);
        await lab.VethsAsync(1, "p", Count);
        using var h1 = lab.Fabric.LocalPorts(1);

        // 100 pings a second between the two configured VMs, across the fabric, all through the churn.
        var ping = Shell.InNamespaceAsync(lab.VmNamespace(1, 1), $"ping -c 1500 -i 0.01 -W 1 {lab.VmIp(2, 1)}", TimeSpan.FromSeconds(60));
        await Task.Delay(500);
        var attach = new List<double>();
        var detach = new List<double>();
        for (int i = 0; i < Count; i++)
        {
            var clock = Stopwatch.StartNew();
            var answer = await h1.AttachAsync($"p{i}", "web", $"02:bb:00:00:{i / 256:x2}:{i % 256:x2}", owner: $"churn-{i}/eth0");
            attach.Add(clock.Elapsed.TotalMilliseconds);
            Assert.Equal(HttpStatusCode.Created, answer.Status);
        }

        for (int i = 0; i < Count; i++)
        {
            var clock = Stopwatch.StartNew();
            var answer = await h1.DetachAsync($"p{i}");
            detach.Add(clock.Elapsed.TotalMilliseconds);
            Assert.Equal(HttpStatusCode.OK, answer.Status);
        }

        var result = await ping;
        var summary = Regex.Match(result.Output, @"(\d+) packets transmitted, (\d+) received");
        Assert.True(summary.Success, result.Output);
        int sent = int.Parse(summary.Groups[1].Value), received = int.Parse(summary.Groups[2].Value);
        output.WriteLine($"ping between h1-vm1 and h2-vm1 during {Count} attaches and {Count} detaches on h1: {sent} sent, {received} received, {sent - received} lost");
        output.WriteLine($"attach ms p50/p99/max: {Percentiles.Of(attach, 50):F1}/{Percentiles.Of(attach, 99):F1}/{attach.Max():F1}; detach ms p50/p99/max: {Percentiles.Of(detach, 50):F1}/{Percentiles.Of(detach, 99):F1}/{detach.Max():F1}");
        Assert.Equal(sent, received);

        var list = (await h1.ListAsync()).Body!.AsArray();
        Assert.DoesNotContain(list, p => p!["interface"]!.GetValue<string>().StartsWith('p'));
        await Shell.CheckedAsync(hostNs, string.Join(" && ", Enumerable.Range(0, Count).Select(i => $"ip link del p{i}")));
    }

    [Fact]
    public async Task A_restarted_agent_restores_its_runtime_ports_and_forwards_for_them_again_within_two_seconds()
    {
        const int Count = 50;
        string hostNs = lab.HostNamespace(1);
        await lab.VethsAsync(1, "r", Count);
        string mac = "02:aa:00:00:01:07", ip = "192.168.100.207";
        string container = await lab.ContainerAsync(1, 7, mac, ip);
        using (var h1 = lab.Fabric.LocalPorts(1))
        {
            Assert.Equal(HttpStatusCode.Created, (await h1.AttachAsync("c7", "web", mac, [ip], owner: "ctr-7/eth0")).Status);
            for (int i = 0; i < Count - 1; i++)
            {
                Assert.Equal(HttpStatusCode.Created, (await h1.AttachAsync($"r{i}", "web", owner: $"restart-{i}/eth0")).Status);
            }
        }

        await Shell.CheckedAsync(container, $"ping -c 2 -i 0.2 -W 2 {lab.VmIp(2, 1)}");
        // The restart is warm once the saved tables hold every port (saved at most once a second).
        string[] expected = ["vm1", "c7", .. Enumerable.Range(0, Count - 1).Select(i => $"r{i}")];
        await Eventually.WaitAsync(async () => (await lab.Fabric.ForwardingCache(1).PortNamesAsync()).Order().SequenceEqual(expected.Order()), Converge, "h1's forwarding cache holds every port");

        lab.Fabric.KillAgent(1);

        // A ping every 20 ms with its time of reply (-D), from before the new process starts.
        var ping = Shell.InNamespaceAsync(container, $"ping -D -i 0.02 -W 1 -c 400 {lab.VmIp(2, 1)}", TimeSpan.FromSeconds(30));
        await Task.Delay(100);
        var started = DateTimeOffset.UtcNow;
        lab.Fabric.StartAgent(1);
        var replies = Regex.Matches((await ping).Output, @"^\[(\d+\.\d+)\] \d+ bytes from", RegexOptions.Multiline)
            .Select(m => DateTimeOffset.FromUnixTimeMilliseconds((long)(double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) * 1000)))
            .Where(t => t > started)
            .ToList();
        Assert.NotEmpty(replies);
        var back = replies[0] - started;
        output.WriteLine($"agent h1 restarted with {Count} runtime ports: the container's first reply {back.TotalMilliseconds:F0} ms after the new process was started");
        Assert.True(back < TimeSpan.FromSeconds(2), $"traffic back after {back}\n{lab.LogTail(12000)}");

        using var restarted = lab.Fabric.LocalPorts(1);
        var ports = await Eventually.ValueAsync(async () => (await restarted.ListAsync()).Body!.AsArray(), l => l.Count == Count + 1, Converge, "the restarted agent lists its ports");
        Assert.Contains(ports, p => p!["interface"]!.GetValue<string>() == "c7" && p["owner"]!.GetValue<string>() == "ctr-7/eth0");
        for (int i = 0; i < Count - 1; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await restarted.DetachAsync($"r{i}")).Status);
        }

        Assert.Equal(HttpStatusCode.OK, (await restarted.DetachAsync("c7")).Status);
        await Shell.CheckedAsync(hostNs, string.Join(" && ", Enumerable.Range(0, Count - 1).Select(i => $"ip link del r{i}")));
    }

    [Fact]
    public async Task An_operator_attaches_and_detaches_a_port_through_the_management_api_and_sees_how_it_went()
    {
        string mac = "02:aa:00:00:01:08", ip = "192.168.100.208";
        string container = await lab.ContainerAsync(1, 8, mac, ip);
        var api = lab.Fabric.Api;

        var put = await api.SendAsync(HttpMethod.Put, "/api/hosts/h1/ports/c8", $$"""{"portGroup":"web","mac":"{{mac}}","ipv4":["{{ip}}"]}""");
        Assert.Equal(HttpStatusCode.Accepted, put.Status);
        Assert.Equal(HttpStatusCode.Accepted, (await api.SendAsync(HttpMethod.Put, "/api/hosts/h1/ports/nosuchif", """{"portGroup":"web"}""")).Status);

        // The agent carries the requests out at its next heartbeat and reports back.
        var ports = await Eventually.ValueAsync(
            () => api.GetJsonAsync("/api/hosts/h1/ports"),
            v => Requested(v, "c8")?.GetProperty("status").GetString() == "attached" && Requested(v, "nosuchif")?.GetProperty("status").GetString() == "failed",
            Converge,
            "h1's agent attached c8 and reported nosuchif as failed");
        Assert.Contains(ports.GetProperty("registered").EnumerateArray(), p => p.GetProperty("name").GetString() == "c8");
        Assert.Contains("cannot be opened", Requested(ports, "nosuchif")!.Value.GetProperty("error").GetString(), StringComparison.Ordinal);
        await Shell.CheckedAsync(container, $"ping -c 2 -i 0.2 -W 2 {lab.VmIp(2, 1)}");
        using (var h1 = lab.Fabric.LocalPorts(1))
        {
            Assert.Contains((await h1.ListAsync()).Body!.AsArray(), p => p!["interface"]!.GetValue<string>() == "c8" && p["owner"]!.GetValue<string>() == "operator");
        }

        // Bad requests are refused at the API, naming the field; nothing is stored.
        Assert.Equal("mac", Field(await api.SendAsync(HttpMethod.Put, "/api/hosts/h1/ports/c9", """{"portGroup":"web","mac":"01:00:5e:00:00:01"}""")));
        Assert.Equal("portGroup", Field(await api.SendAsync(HttpMethod.Put, "/api/hosts/h1/ports/c9", """{"mac":"02:00:00:00:00:09"}""")));
        Assert.Equal("interface", Field(await api.SendAsync(HttpMethod.Put, "/api/hosts/h1/ports/this-name-is-too-long", """{"portGroup":"web"}""")));
        Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(HttpMethod.Put, "/api/hosts/h1/ports/c9", """{"portGroup":"nope"}""")).Status);
        Assert.Null(Requested(await api.GetJsonAsync("/api/hosts/h1/ports"), "c9"));

        // Withdrawn: the agent detaches the port; the failed request just goes.
        Assert.Equal(HttpStatusCode.NoContent, (await api.SendAsync(HttpMethod.Delete, "/api/hosts/h1/ports/c8")).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await api.SendAsync(HttpMethod.Delete, "/api/hosts/h1/ports/nosuchif")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(HttpMethod.Delete, "/api/hosts/h1/ports/nosuchif")).Status);
        await Eventually.WaitAsync(
            async () => !(await api.GetJsonAsync("/api/hosts/h1/ports")).GetProperty("registered").EnumerateArray().Any(p => p.GetProperty("name").GetString() == "c8"),
            Converge,
            "c8 is no longer registered");
        await Eventually.WaitAsync(async () => await lab.MacEntryAsync(RuntimePortFixture.WebVni, mac) is null, Converge, $"{mac} withdrawn");
    }

    private static JsonElement? Requested(JsonElement ports, string name)
        => ports.GetProperty("requested").EnumerateArray().Where(r => r.GetProperty("interface").GetString() == name).Select(r => (JsonElement?)r).FirstOrDefault();

    private static string? Field(ApiResponse response)
        => response.Status == HttpStatusCode.BadRequest ? JsonDocument.Parse(response.Body).RootElement.GetProperty("field").GetString() : $"status {(int)response.Status}: {response.Body}";
}
