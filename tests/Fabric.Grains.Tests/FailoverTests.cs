using Fabric.Grains.Tests.Infrastructure;
using Orleans.TestingHost;

namespace Fabric.Grains.Tests;

[Collection(ClusterCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class FailoverTests(ClusterFixture fixture) : ClusterTest(fixture)
{
    [Fact]
    public async Task Switch_config_survives_killing_the_silo_that_hosts_it_and_segments_come_back_with_a_new_epoch()
    {
        var (sw, pg, vni) = await NewPortGroupAsync();
        await Switch(sw).AddHostAsync("esx1", "eth1");
        string host = Names.Unique("host");
        await RegisterAsync(host, sw, Vtep(1), ("vm1", pg));
        var before = await Switch(sw).GetAsync();
        var segmentBefore = await Segment(vni).GetAsync();

        // Put both grains on one secondary silo (never the primary, which the test cluster's membership leans on), then kill it.
        var victim = Fixture.Cluster.SecondarySilos[0];
        await Fixture.Cluster.MigrateAsync(Switch(sw), victim.SiloAddress);
        await Fixture.Cluster.MigrateAsync(Segment(vni), victim.SiloAddress);
        var management = Grains.GetGrain<IManagementGrain>(0);
        await WaitUntilAsync(async () => Equals(await management.GetActivationAddress(Switch(sw)), victim.SiloAddress)
                                          && Equals(await management.GetActivationAddress(Segment(vni)), victim.SiloAddress));

        await Fixture.Cluster.KillSiloAsync(victim);
        try
        {
            var after = await RetryAsync(() => Switch(sw).GetAsync());
            Assert.NotNull(after);
            Assert.Equal(before, after with { PortGroups = before!.PortGroups, Members = before.Members });
            Assert.Equal(before.PortGroups, after.PortGroups);
            Assert.Equal(before.Members, after.Members);
            Assert.NotEqual(victim.SiloAddress, await management.GetActivationAddress(Switch(sw)));

            var segmentAfter = await RetryAsync(() => Segment(vni).GetAsync());
            Assert.NotEqual(segmentBefore.Epoch, segmentAfter.Epoch);
            Assert.Equal(segmentBefore.Version, segmentAfter.Version);
            Assert.Equal(segmentBefore.FloodList, segmentAfter.FloodList);
        }
        finally
        {
            // Leave three silos for the tests that follow.
            await Fixture.Cluster.StartAdditionalSiloAsync();
        }
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> call)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            try
            {
                return await call();
            }
            catch (Exception) when (!deadline.IsCancellationRequested)
            {
                // Until membership declares the silo dead, calls routed to it fail; that is what failover looks like.
                await Task.Delay(200);
            }
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!await condition())
        {
            await Task.Delay(100, deadline.Token);
        }
    }
}
