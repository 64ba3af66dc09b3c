using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Fabric.Cluster.Tests.Infrastructure;
using Fabric.Grains;
using Orleans.Runtime;
using Xunit.Abstractions;

namespace Fabric.Cluster.Tests;

/// <summary>
/// Three real silo processes in cluster mode, membership and grain state in Table storage (Azurite),
/// driven through their HTTP API as an operator would.
/// </summary>
[Collection(SiloClusterCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class ClusterModeTests(SiloClusterFixture cluster, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>Issue bound: from SIGKILL of a silo to the first successful call on a grain it hosted.</summary>
    private static readonly TimeSpan FailoverBound = TimeSpan.FromSeconds(30);

    private static long s_vni = Random.Shared.Next(1_000_000, 15_000_000);

    public Task InitializeAsync() => cluster.EnsureRunningAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Switch_grains_created_through_one_silo_are_spread_over_the_cluster()
    {
        var names = Enumerable.Range(0, 30).Select(i => UniqueName($"spread{i}")).ToArray();
        var entry = cluster.Silos[0];
        foreach (var name in names)
        {
            await PutAsync(entry.Http, $"api/switches/{name}", """{"mtu":1450}""");
        }

        await using var client = await cluster.ConnectAsync();
        var management = client.Client.GetGrain<IManagementGrain>(0);
        var hosts = cluster.Silos.ToDictionary(s => s.Name, _ => 0);
        foreach (var name in names)
        {
            var address = await management.GetActivationAddress(client.Client.GetGrain<ISwitchGrain>(name));
            var silo = cluster.SiloAt(address);
            Assert.True(silo is not null, $"switch {name} is active at {address?.ToString() ?? "nowhere"}, not on one of the cluster's silos");
            hosts[silo.Name] = hosts.GetValueOrDefault(silo.Name) + 1;
        }

        output.WriteLine($"30 switches created through {entry.Name}: " + string.Join(", ", hosts.OrderBy(h => h.Key).Select(h => $"{h.Key} hosts {h.Value}")));
        Assert.True(hosts.Count(h => h.Value > 0) >= 2, $"every switch is on {string.Join(", ", hosts.Where(h => h.Value > 0).Select(h => h.Key))}");
    }

    [Fact]
    public async Task A_switch_whose_silo_is_killed_answers_from_another_silo_with_its_stored_configuration()
    {
        // Several switches, so that at least one lives on a silo other than the one we keep calling.
        var names = Enumerable.Range(0, 12).Select(i => UniqueName($"failover{i}")).ToArray();
        var vni = NextVni();
        for (int i = 0; i < names.Length; i++)
        {
            var via = cluster.Silos[i % cluster.Silos.Count];
            await PutAsync(via.Http, $"api/switches/{names[i]}", """{"mtu":1450}""");
            await PutAsync(via.Http, $"api/switches/{names[i]}/portgroups/web", $$"""{"vni":{{vni + i}}}""");
        }

        // The victim: a silo hosting some of these switches. The survivors answer the API.
        string victimSwitch;
        SiloProcess victim;
        await using (var client = await cluster.ConnectAsync())
        {
            var management = client.Client.GetGrain<IManagementGrain>(0);
            var placed = new List<(string Name, SiloProcess Silo)>();
            foreach (var name in names)
            {
                if (cluster.SiloAt(await management.GetActivationAddress(client.Client.GetGrain<ISwitchGrain>(name))) is { } silo)
                {
                    placed.Add((name, silo));
                }
            }

            (victimSwitch, victim) = placed.First();
        }

        var before = await GetJsonAsync(cluster.Silos.First(s => s != victim).Http, $"api/switches/{victimSwitch}");
        var survivor = cluster.Silos.First(s => s != victim);
        output.WriteLine($"switch {victimSwitch} is on {victim.Name} (pid {victim.Pid}); calling {survivor.Name} after SIGKILL");

        var clock = Stopwatch.StartNew();
        cluster.Kill(victim);
        var (after, attempts, lastFailure) = await FirstSuccessfulGetAsync(survivor.Http, $"api/switches/{victimSwitch}", FailoverBound + TimeSpan.FromSeconds(10));
        var failover = clock.Elapsed;

        output.WriteLine($"kill -9 of {victim.Name} -> first successful call on {victimSwitch} via {survivor.Name}: {failover.TotalSeconds:0.00} s ({attempts} attempts; last failure before it: {lastFailure ?? "none"})");
        Assert.True(after is not null, $"no successful call within {FailoverBound + TimeSpan.FromSeconds(10)}; last failure: {lastFailure}\n{cluster.Diagnostics()}");
        Assert.True(failover < FailoverBound, $"failover took {failover.TotalSeconds:0.00} s, bound {FailoverBound.TotalSeconds} s");
        Assert.Equal(before.GetProperty("mtu").GetInt32(), after.Value.GetProperty("mtu").GetInt32());
        Assert.Equal(before.GetProperty("version").GetInt64(), after.Value.GetProperty("version").GetInt64());
        Assert.Equal(
            before.GetProperty("portGroups").GetRawText(),
            after.Value.GetProperty("portGroups").GetRawText());

        // The cluster goes on with two members: the dead silo is voted out, and every switch answers.
        await cluster.WaitForActiveMembersAsync(cluster.Silos, TimeSpan.FromSeconds(30));
        output.WriteLine($"{victim.Name} declared dead after {clock.Elapsed.TotalSeconds:0.00} s");
        foreach (var name in names)
        {
            var sw = await GetJsonAsync(cluster.Silos[^1].Http, $"api/switches/{name}");
            Assert.Equal(1450, sw.GetProperty("mtu").GetInt32());
        }
    }

    [Fact]
    public async Task A_cluster_restarted_with_the_same_id_and_storage_keeps_every_switch_port_group_and_segment()
    {
        var expected = new List<(string Switch, string PortGroup, long Vni)>();
        for (int i = 0; i < 5; i++)
        {
            var name = UniqueName($"restart{i}");
            var via = cluster.Silos[i % cluster.Silos.Count];
            await PutAsync(via.Http, $"api/switches/{name}", """{"mtu":1450}""");
            foreach (var group in new[] { "web", "db" })
            {
                var vni = NextVni();
                await PutAsync(via.Http, $"api/switches/{name}/portgroups/{group}", $$"""{"vni":{{vni}}}""");

                // Flood lists and MAC tables hold IP addresses: state the storage serializer must read back.
                await PutAsync(via.Http, $"api/segments/{vni}/vteps/10.77.0.{i + 1}", "{}");
                await PutAsync(via.Http, $"api/segments/{vni}/macs/02:77:00:00:00:0{i + 1}", $$"""{"vtep":"10.77.0.{{i + 1}}"}""");
                expected.Add((name, group, vni));
            }
        }

        var graceful = await cluster.StopAllAsync();
        output.WriteLine($"{graceful} of {SiloClusterFixture.Size} silos stopped gracefully on SIGTERM");
        Assert.Empty(cluster.Silos);

        var clock = Stopwatch.StartNew();
        await cluster.EnsureRunningAsync();
        output.WriteLine($"three new silos active after {clock.Elapsed.TotalSeconds:0.00} s: {string.Join(", ", cluster.Silos.Select(s => $"{s.Name} pid {s.Pid}"))}");

        var listed = await GetJsonAsync(cluster.Silos[0].Http, "api/switches");
        var listedNames = listed.EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToHashSet();
        for (int i = 0; i < expected.Count; i++)
        {
            var (name, group, vni) = expected[i];
            var via = cluster.Silos[i % cluster.Silos.Count];
            Assert.Contains(name, listedNames);

            var sw = await GetJsonAsync(via.Http, $"api/switches/{name}");
            Assert.Equal(1450, sw.GetProperty("mtu").GetInt32());
            Assert.Contains(sw.GetProperty("portGroups").EnumerateArray(), g => g.GetProperty("name").GetString() == group && g.GetProperty("vni").GetInt64() == vni);

            var segment = await GetJsonAsync(via.Http, $"api/segments/{vni}");
            Assert.Equal(name, segment.GetProperty("switch").GetString());
            Assert.Equal(group, segment.GetProperty("portGroup").GetString());
            string vtep = $"10.77.0.{(i / 2) + 1}";
            Assert.Contains(segment.GetProperty("floodList").EnumerateArray(), e => e.GetProperty("vtep").GetString() == vtep);

            var fdb = await GetJsonAsync(via.Http, $"api/segments/{vni}/macs");
            Assert.Contains(fdb.GetProperty("entries").EnumerateArray(), e => e.GetProperty("vtep").GetString() == vtep && e.GetProperty("static").GetBoolean());
        }
    }

    private static string UniqueName(string stem) => $"{stem}-{Guid.NewGuid():N}"[..Math.Min(stem.Length + 13, 40)];

    private static long NextVni() => Interlocked.Add(ref s_vni, 16);

    private static async Task PutAsync(HttpClient http, string path, string json)
    {
        using var response = await http.PutAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"PUT {path} {json} -> {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task<JsonElement> GetJsonAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} -> {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Calls GET <paramref name="path"/> until it answers 200; no back-off beyond 50 ms, so the measurement is tight.</summary>
    private static async Task<(JsonElement? Body, int Attempts, string? LastFailure)> FirstSuccessfulGetAsync(HttpClient http, string path, TimeSpan timeout)
    {
        string? lastFailure = null;
        int attempts = 0;
        try
        {
            var body = await Eventually.ValueAsync(
                async () =>
                {
                    attempts++;
                    using var response = await http.GetAsync(path);
                    var text = await response.Content.ReadAsStringAsync();
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        return (JsonElement?)JsonDocument.Parse(text).RootElement.Clone();
                    }

                    lastFailure = $"{(int)response.StatusCode} {text[..Math.Min(text.Length, 200)]}";
                    return null;
                },
                body => body is not null,
                timeout,
                $"GET {path} answering 200",
                TimeSpan.FromMilliseconds(50),
                onError: exception => lastFailure = exception.Message);
            return (body, attempts, lastFailure);
        }
        catch (TimeoutException)
        {
            return (null, attempts, lastFailure);
        }
    }
}
