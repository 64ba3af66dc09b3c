using Fabric.Grains.Tests.Infrastructure;

namespace Fabric.Grains.Tests;

[Collection(ClusterCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class SegmentTests(ClusterFixture fixture) : ClusterTest(fixture)
{
    [Fact]
    public async Task Observers_receive_every_delta_once_with_consecutive_versions()
    {
        var vni = Names.NextVni();
        var recorder = new SegmentRecorder();
        var reference = Fixture.Client.CreateObjectReference<ISegmentObserver>(recorder);
        var snapshot = await Segment(vni).SubscribeAsync(reference);
        Assert.Empty(snapshot.FloodList);

        for (int i = 1; i <= 5; i++)
        {
            await Segment(vni).JoinAsync($"h{i}", Vtep(i));
        }

        await Segment(vni).JoinAsync("h1", Vtep(1)); // idempotent: no delta, no version
        await Segment(vni).JoinAsync("h2", Vtep(42)); // VTEP change: one delta, removed + added
        await Segment(vni).LeaveAsync("h3");
        await Segment(vni).LeaveAsync("h3"); // not there: nothing

        // One-way observer calls may reach a client through different gateways, so arrival order is
        // not promised (an agent that sees a gap re-snapshots); every version must arrive, once.
        for (int v = 1; v <= 7; v++)
        {
            await recorder.Deltas.WaitForAsync(d => d.Version == snapshot.Version + v);
        }

        var deltas = recorder.Deltas.Items.OrderBy(d => d.Version).ToList();
        var last = deltas[^1];
        Assert.Equal(Enumerable.Range(1, 7).Select(i => snapshot.Version + i), deltas.Select(d => d.Version));
        Assert.All(deltas, d => Assert.Equal(snapshot.Epoch, d.Epoch));
        Assert.Equal(new FloodListEntry("h2", Vtep(42)), deltas[5].Added);
        Assert.Equal(new FloodListEntry("h2", Vtep(2)), deltas[5].Removed);
        Assert.Equal(new FloodListEntry("h3", Vtep(3)), last.Removed);
        Assert.Null(last.Added);

        var now = await Segment(vni).GetAsync();
        Assert.Equal(last.Version, now.Version);
        Assert.Equal(["h1", "h2", "h4", "h5"], now.FloodList.Select(e => e.HostId));
        GC.KeepAlive(recorder);
    }

    [Fact]
    public async Task Resubscribing_after_a_new_activation_shows_a_new_epoch_and_the_same_flood_list()
    {
        var vni = Names.NextVni();
        var recorder = new SegmentRecorder();
        var reference = Fixture.Client.CreateObjectReference<ISegmentObserver>(recorder);
        await Segment(vni).JoinAsync("a", Vtep(1));
        var first = await Segment(vni).SubscribeAsync(reference);

        await Fixture.Cluster.DeactivateAsync(Segment(vni));
        var second = await Segment(vni).SubscribeAsync(reference);

        Assert.NotEqual(first.Epoch, second.Epoch);
        Assert.Equal(first.Version, second.Version);
        Assert.Equal(first.FloodList, second.FloodList);

        // The new activation pushes to the renewed subscription.
        await Segment(vni).JoinAsync("b", Vtep(2));
        var delta = await recorder.Deltas.WaitForAsync(d => d.Added?.HostId == "b");
        Assert.Equal(second.Epoch, delta.Epoch);
        Assert.Equal(second.Version + 1, delta.Version);
        GC.KeepAlive(recorder);
    }

    [Fact]
    public async Task A_bad_vtep_or_segment_key_is_rejected()
    {
        var vni = Names.NextVni();
        var error = await Assert.ThrowsAsync<FabricValidationException>(() => Segment(vni).JoinAsync("a", System.Net.IPAddress.Parse("239.1.1.1")));
        Assert.Equal("vtep", error.Field);
        Assert.Equal(0, (await Segment(vni).GetAsync()).Version);

        var outOfRange = await Assert.ThrowsAsync<FabricValidationException>(() => Grains.GetGrain<ISegmentGrain>(0x100_0000).GetAsync());
        Assert.Equal("vni", outOfRange.Field);
    }
}
