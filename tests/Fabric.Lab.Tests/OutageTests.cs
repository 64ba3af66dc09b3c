using Xunit.Abstractions;

namespace Fabric.Lab.Tests;

/// <summary>
/// 2 hosts × 1 VM (vm1 → web, VNI 5001), one silo, agents with short timings: local MACs age out
/// after 4 s and saved forwarding tables are good for 9 s (so they are saved again at least every 3 s).
/// The test kills the silo: the fixture is this test's alone.
/// </summary>
public sealed class OutageFixture() : LabFabric(DefaultShape)
{
    public const long WebVni = 5001;

    public static readonly TimeSpan MacAgingTime = TimeSpan.FromSeconds(4);

    public static readonly TimeSpan ForwardingCacheMaxAge = TimeSpan.FromSeconds(9);

    public static LabShape DefaultShape { get; } = new()
    {
        Stem = "fo",
        Hosts = 2,
        Vms = 1,
        Groups = 1,
        PortGroups = [new("web", $$"""{"vni":{{WebVni}}}""")],
        Agents = new Dictionary<int, IReadOnlyList<PortBinding>> { [1] = [new("vm1", "web")], [2] = [new("vm1", "web")] },
        FloodLists = new Dictionary<long, int[]> { [WebVni] = [1, 2] },
        AgentSettings = new Dictionary<string, string>
        {
            ["Fabric:Agent:MacAgingTime"] = MacAgingTime.ToString("c"),
            ["Fabric:Agent:ForwardingCacheMaxAge"] = ForwardingCacheMaxAge.ToString("c"),
        },
    };
}

[CollectionDefinition(Name)]
public sealed class OutageCollection : ICollectionFixture<OutageFixture>
{
    public const string Name = "outage lab";
}

/// <summary>
/// Issue 8: the agent's housekeeping (ageing, saving the forwarding cache) does not depend on the
/// cluster, and the data plane forwards on its last tables while the control plane is gone.
/// </summary>
[Collection(OutageCollection.Name)]
[Trait("Category", "Lab")]
public sealed class OutageTests(OutageFixture lab, ITestOutputHelper output)
{
    [Fact]
    public async Task With_the_silo_killed_an_agent_ages_out_its_local_macs_saves_its_forwarding_tables_again_and_keeps_forwarding()
    {
        string vm1 = lab.VmMac(1, 1);
        string target = lab.VmIp(2, 1);
        var status = lab.Status(1);
        var cache = lab.Fabric.ForwardingCache(1);

        // Static neighbours: the VMs send nothing but the pings (no ARP probes seconds later), so
        // the MAC's last frame is the ping right before the kill and its ageing is measured from there.
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ip neigh replace {target} lladdr {lab.VmMac(2, 1)} dev eth0 nud permanent");
        await Shell.CheckedAsync(lab.VmNamespace(2, 1), $"ip neigh replace {lab.VmIp(1, 1)} lladdr {vm1} dev eth0 nud permanent");

        // h1-vm1 talks, so h1's agent holds its MAC locally (and has h2-vm1 as a remote MAC).
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 3 -i 0.2 -W 2 {target}");
        await Eventually.WaitAsync(
            async () => await status.ReadAsync() is { } s && s.HoldsLocalMac(vm1) && s.RemoteMac(OutageFixture.WebVni, lab.VmMac(2, 1)) == lab.UnderlayIp(2),
            TimeSpan.FromSeconds(15), $"h1's status holds {vm1} locally and h2-vm1's MAC behind h2");

        // Seen once more right before the kill, so it cannot age out before the outage began.
        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ping -c 1 -W 2 {target}");
        var killedAt = DateTimeOffset.UtcNow;
        lab.Fabric.KillSilo(0);
        Assert.True(lab.Fabric.Silos[0]!.HasExited, "the silo still runs after SIGKILL");

        // Watch the status and the cache file until the MAC is gone and the file was saved again.
        DateTimeOffset? lastHeld = null, firstAged = null;
        DateTimeOffset? savedAt = null;
        var bound = OutageFixture.MacAgingTime + TimeSpan.FromSeconds(16);
        await Eventually.UntilAsync(
            async () =>
            {
                var now = await status.ReadAsync();
                var writtenAt = now.WrittenAt == default ? DateTimeOffset.UtcNow : now.WrittenAt;
                if (writtenAt > killedAt)
                {
                    if (now.HoldsLocalMac(vm1))
                    {
                        lastHeld = writtenAt;
                    }
                    else
                    {
                        firstAged ??= writtenAt;
                    }
                }

                if (await cache.SavedAtAsync() is { } saved && saved > killedAt)
                {
                    savedAt ??= saved;
                }

                return true;
            },
            _ => firstAged is not null && savedAt is not null,
            bound,
            TimeSpan.FromMilliseconds(100));

        string Since(DateTimeOffset? t) => t is { } v ? $"{(v - killedAt).TotalSeconds:F2} s after the kill" : $"not within {bound.TotalSeconds} s of the kill";
        string figures = $"MacAgingTime {OutageFixture.MacAgingTime.TotalSeconds} s, ForwardingCacheMaxAge {OutageFixture.ForwardingCacheMaxAge.TotalSeconds} s: "
            + $"h1-vm1's MAC last held by a status written {Since(lastHeld)}, gone from one written {Since(firstAged)}; "
            + $"forwarding cache saved again {Since(savedAt)}";
        output.WriteLine(figures);

        Assert.True(lastHeld is not null, $"h1-vm1's MAC was already gone from the first status written after the kill: it did not age out during the outage ({figures})");
        Assert.True(firstAged is not null, $"h1-vm1's MAC did not age out of h1's localMacs during the outage ({figures})\n{await status.ReadAsync()}");
        Assert.True(savedAt is not null, $"h1's agent did not save its forwarding tables during the outage ({figures}); file {cache.Path} saved at {await cache.SavedAtAsync():O}");

        // The data plane forwards on its tables with no control plane: h1-vm1 is learned again locally,
        // h2-vm1 is still known behind h2.
        var ping = await Shell.InNamespaceAsync(lab.VmNamespace(1, 1), $"ping -c 3 -i 0.2 -W 2 {target}");
        Assert.True(ping.ExitCode == 0, $"h1-vm1 → h2-vm1 failed with the silo down:\n{ping.Output}\n{lab.LogTail()}");
        Assert.True(lab.Fabric.Silos[0]!.HasExited, "the silo came back: the ping did not prove forwarding without a control plane");
    }
}
