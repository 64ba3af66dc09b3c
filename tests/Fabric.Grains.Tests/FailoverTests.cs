using System.Diagnostics;
using Fabric.Addressing;
using Fabric.Grains.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Fabric.Grains.Tests;

[Collection(ClusterCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class FailoverTests(ClusterFixture fixture, ITestOutputHelper output) : ClusterTest(fixture)
{
    [Fact]
    public async Task Switch_config_survives_killing_the_silo_that_hosts_it_and_segments_come_back_with_a_new_epoch()
    {
        var management = Grains.GetGrain<IManagementGrain>(0);
        var secondaries = Fixture.Cluster.SecondarySilos.Select(s => s.SiloAddress).ToList();

        // Placement decides where a grain lives (and TestCluster.MigrateAsync was seen to hang when a
        // move is declined), so create switches until one lands on a secondary silo: the primary is
        // what the test cluster's membership leans on, so it is never the one killed.
        string sw = "";
        SiloAddress? victimAddress = null;
        for (int attempt = 0; attempt < 40 && victimAddress is null; attempt++)
        {
            (sw, _, _) = await NewPortGroupAsync();
            var at = await management.GetActivationAddress(Switch(sw));
            victimAddress = secondaries.FirstOrDefault(s => s.Equals(at));
        }

        Assert.NotNull(victimAddress);
        var victim = Fixture.Cluster.SecondarySilos.Single(s => s.SiloAddress.Equals(victimAddress));

        // And a segment on the same silo, its flood list filled straight in.
        Vni vni = default;
        for (int attempt = 0; attempt < 60; attempt++)
        {
            vni = Names.NextVni();
            await Segment(vni).JoinAsync("esx1", Vtep(1));
            if (victimAddress.Equals(await management.GetActivationAddress(Segment(vni))))
            {
                break;
            }
        }

        Assert.Equal(victimAddress, await management.GetActivationAddress(Segment(vni)));
        await Switch(sw).AddHostAsync("esx1", "eth1");
        string host = Names.Unique("esx");
        await RegisterAsync(host, sw, Vtep(7), ("vm1", "web"));
        var ackBefore = await Host(host).HeartbeatAsync(1);
        var before = await Switch(sw).GetAsync();
        var segmentBefore = await Segment(vni).GetAsync();
        Note("both grains on the victim silo");

        var clock = Stopwatch.StartNew();
        await Fixture.Cluster.KillSiloAsync(victim);
        Note($"killed {victim.SiloAddress} in {clock.Elapsed}");
        try
        {
            var after = await RetryAsync(() => Switch(sw).GetAsync());
            Assert.NotNull(after);
            Assert.Equal(before, after with { PortGroups = before!.PortGroups, Members = before.Members, Mirrors = before.Mirrors });
            Assert.Equal(before.Mirrors, after.Mirrors);
            Assert.Equal(before.PortGroups, after.PortGroups);
            Assert.Equal(before.Members, after.Members);
            Assert.NotEqual(victim.SiloAddress, await management.GetActivationAddress(Switch(sw)));

            Note($"switch answered again after {clock.Elapsed}");
            var segmentAfter = await RetryAsync(() => Segment(vni).GetAsync());
            Note($"segment answered again after {clock.Elapsed}");
            Assert.NotEqual(segmentBefore.Epoch, segmentAfter.Epoch);
            Assert.Equal(segmentBefore.Version, segmentAfter.Version);
            Assert.Equal(segmentBefore.FloodList, segmentAfter.FloodList);

            // The agents' cue to renew their subscriptions: the membership version in the heartbeat
            // answer moves once the dead silo is declared so (the new segment activation has no observers).
            // The answer carries the view of the silo hosting the host grain, which learns of the death
            // on its own schedule: heartbeats are sent until it shows (as an agent's do), then judged.
            var ackAfter = await Eventually.UntilAsync(() => Host(host).HeartbeatAsync(1), ack => ack.MembershipVersion > ackBefore.MembershipVersion, TimeSpan.FromSeconds(60));
            Assert.True(ackAfter.MembershipVersion > ackBefore.MembershipVersion, $"membership version {ackBefore.MembershipVersion} → {ackAfter.MembershipVersion}");
        }
        finally
        {
            // Leave three silos for the tests that follow.
            await Fixture.Cluster.StartAdditionalSiloAsync();
            Note($"replacement silo started after {clock.Elapsed}");
        }
    }

    private void Note(string message) => output.WriteLine(message);

    /// <summary>Until membership declares the silo dead, calls routed to it fail; that is what failover looks like.</summary>
    private Task<T> RetryAsync<T>(Func<Task<T>> call) => Eventually.ValueAsync(
        call,
        _ => true,
        TimeSpan.FromSeconds(60),
        "a call that succeeds after the kill",
        onError: exception => Note($"retrying after {exception.GetType().Name}: {exception.Message}"));
}
