using System.Net;
using Fabric.Addressing;
using Fabric.Grains.Tests.Infrastructure;

namespace Fabric.Grains.Tests;

[Collection(ClusterCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class MacTableTests(ClusterFixture fixture) : ClusterTest(fixture)
{
    [Fact]
    public async Task A_mac_learned_at_a_new_host_wins_with_the_next_sequence_and_the_old_holder_is_told()
    {
        var vni = Names.NextVni();
        var mac = Names.NextMac();
        var recorder = new MacTableRecorder();
        var snapshot = await MacTable(vni).SubscribeAsync(Fixture.Client.CreateObjectReference<IMacTableObserver>(recorder));

        var atA = Assert.Single(await MacTable(vni).LearnAsync([Learn(mac, "host-a", 1)]));
        Assert.Equal(MacLearnResult.Learned, atA.Result);
        Assert.Equal(1, atA.Entry.Sequence);

        var atB = Assert.Single(await MacTable(vni).LearnAsync([Learn(mac, "host-b", 2)]));
        Assert.Equal(MacLearnResult.Moved, atB.Result);
        Assert.Equal(2, atB.Entry.Sequence);
        Assert.Equal("host-b", atB.Entry.HostId);

        // Every subscriber, the old holder's agent included, gets the move with where the MAC was.
        var moved = await recorder.Deltas.WaitForAsync(d => d.Changes.Any(c => c.Kind == MacChangeKind.Moved));
        var change = Assert.Single(moved.Changes);
        Assert.Equal(new MacLocation("host-a", Vtep(1), "eth0"), change.Previous);
        Assert.Equal(snapshot.Version + 2, moved.Version);
        await recorder.Deltas.WaitForAsync(d => d.Version == snapshot.Version + 1); // arrival order is not promised
        Assert.Equal([snapshot.Version + 1, snapshot.Version + 2], recorder.Deltas.Items.Select(d => d.Version).Order());

        var entry = Assert.Single((await MacTable(vni).GetSnapshotAsync()).Entries);
        Assert.Equal(("host-b", 2L), (entry.HostId, entry.Sequence));
        GC.KeepAlive(recorder);
    }

    [Fact]
    public async Task Relearning_a_mac_at_the_same_location_changes_nothing()
    {
        var vni = Names.NextVni();
        var mac = Names.NextMac();
        await MacTable(vni).LearnAsync([Learn(mac, "host-a", 1)]);
        var before = await MacTable(vni).GetSnapshotAsync();

        var again = await MacTable(vni).LearnAsync([Learn(mac, "host-a", 1), Learn(mac, "host-a", 1)]);

        Assert.All(again, o => Assert.Equal(MacLearnResult.Unchanged, o.Result));
        var after = await MacTable(vni).GetSnapshotAsync();
        Assert.Equal(before.Version, after.Version);
        Assert.Equal(1, Assert.Single(after.Entries).Sequence);
    }

    [Fact]
    public async Task A_mac_that_keeps_moving_is_frozen_where_it_is_and_reported()
    {
        var vni = Names.NextVni();
        var mac = Names.NextMac();
        var recorder = new MacTableRecorder();
        await MacTable(vni).SubscribeAsync(Fixture.Client.CreateObjectReference<IMacTableObserver>(recorder));
        await MacTable(vni).LearnAsync([Learn(mac, "host-a", 1)]);

        // Five moves are mobility (RFC 7432 §15.1 default N = 5 in M = 180 s); the sixth is a duplicate.
        var results = new List<MacLearnOutcome>();
        for (int move = 1; move <= 6; move++)
        {
            string host = move % 2 == 1 ? "host-b" : "host-a";
            results.Add(Assert.Single(await MacTable(vni).LearnAsync([Learn(mac, host, move % 2 == 1 ? 2 : 1)])));
        }

        Assert.All(results.Take(5), r => Assert.Equal(MacLearnResult.Moved, r.Result));
        Assert.Equal(MacLearnResult.Frozen, results[5].Result);
        var frozen = Assert.Single((await MacTable(vni).GetSnapshotAsync()).Entries);
        Assert.True(frozen.Frozen);
        Assert.Equal(("host-b", 6L), (frozen.HostId, frozen.Sequence)); // where the fifth move left it
        await recorder.Deltas.WaitForAsync(d => d.Changes.Any(c => c.Kind == MacChangeKind.Frozen && c.Entry.Mac == mac));

        var chased = Assert.Single(await MacTable(vni).LearnAsync([Learn(mac, "host-a", 1)]));
        Assert.Equal(MacLearnResult.RejectedFrozen, chased.Result);
        Assert.Equal("host-b", chased.Entry.HostId);

        // Corrective action clears it: removed, the MAC is learned afresh.
        Assert.True(await MacTable(vni).RemoveAsync(mac));
        Assert.Equal(MacLearnResult.Learned, Assert.Single(await MacTable(vni).LearnAsync([Learn(mac, "host-a", 1)])).Result);
        GC.KeepAlive(recorder);
    }

    [Fact]
    public async Task Learning_never_moves_a_static_entry()
    {
        var vni = Names.NextVni();
        var mac = Names.NextMac();
        var pinned = await MacTable(vni).SetStaticAsync(mac, "gateway", Vtep(9), "uplink");
        Assert.True(pinned.Static);

        var attempt = Assert.Single(await MacTable(vni).LearnAsync([Learn(mac, "host-a", 1)]));
        Assert.Equal(MacLearnResult.RejectedStatic, attempt.Result);
        Assert.Equal(0, await MacTable(vni).WithdrawHostAsync("gateway"));
        Assert.Equal(pinned, Assert.Single((await MacTable(vni).GetSnapshotAsync()).Entries));
    }

    [Theory]
    [InlineData("01:00:5e:00:00:01")]
    [InlineData("ff:ff:ff:ff:ff:ff")]
    [InlineData("00:00:00:00:00:00")]
    public async Task A_batch_with_a_multicast_broadcast_or_zero_mac_is_rejected_whole(string bad)
    {
        var vni = Names.NextVni();
        var good = Names.NextMac();
        var error = await Assert.ThrowsAsync<FabricValidationException>(
            () => MacTable(vni).LearnAsync([Learn(good, "host-a", 1), Learn(MacAddress.Parse(bad), "host-a", 1)]));
        Assert.Equal("mac", error.Field);
        var snapshot = await MacTable(vni).GetSnapshotAsync();
        Assert.Equal(0, snapshot.Version);
        Assert.Empty(snapshot.Entries);
    }

    [Fact]
    public async Task An_ip_binds_only_to_a_known_mac_and_goes_with_it()
    {
        var vni = Names.NextVni();
        var mac = Names.NextMac();
        var ip = IPAddress.Parse("192.168.10.5");
        var missing = await Assert.ThrowsAsync<FabricNotFoundException>(() => MacTable(vni).BindIpAsync(mac, ip));
        Assert.Equal("mac", missing.Kind);
        var badIp = await Assert.ThrowsAsync<FabricValidationException>(() => MacTable(vni).BindIpAsync(mac, IPAddress.Parse("224.0.0.1")));
        Assert.Equal("ip", badIp.Field);

        await MacTable(vni).LearnAsync([Learn(mac, "host-a", 1)]);
        await MacTable(vni).BindIpAsync(mac, ip);
        Assert.Equal(new IpBinding(ip, mac), Assert.Single((await MacTable(vni).GetSnapshotAsync()).IpBindings));

        Assert.Equal(1, await MacTable(vni).WithdrawHostAsync("host-a"));
        var after = await MacTable(vni).GetSnapshotAsync();
        Assert.Empty(after.Entries);
        Assert.Empty(after.IpBindings);
    }
}
