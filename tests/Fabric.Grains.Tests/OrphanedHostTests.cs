using System.Diagnostics;
using Fabric.Grains.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Fabric.Grains.Tests;

/// <summary>
/// An agent that dies together with the silo holding its host grain sends no more heartbeats and
/// nothing else calls its grain; the liveness sweep must still bring the grain back and withdraw it.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class OrphanedHostTests(ClusterFixture fixture, ITestOutputHelper output) : ClusterTest(fixture)
{
    [Fact]
    public async Task A_silent_host_whose_grain_died_with_its_silo_is_still_declared_dead_and_leaves_the_flood_list()
    {
        var management = Grains.GetGrain<IManagementGrain>(0);
        var secondaries = Fixture.Cluster.SecondarySilos.Select(s => s.SiloAddress).ToList();
        var (sw, pg, vni) = await NewPortGroupAsync();

        string hostId = "";
        SiloAddress? victimAddress = null;
        for (int attempt = 0; attempt < 40 && victimAddress is null; attempt++)
        {
            hostId = $"orphan-{Guid.NewGuid():N}"[..20];
            await RegisterAsync(hostId, sw, Vtep(7), ("eth0", pg));
            var at = await management.GetActivationAddress(Host(hostId));
            victimAddress = secondaries.FirstOrDefault(s => s.Equals(at));
        }

        Assert.NotNull(victimAddress);
        Assert.Contains((await Segment(vni).GetAsync()).FloodList, e => e.HostId == hostId);
        var victim = Fixture.Cluster.SecondarySilos.Single(s => s.SiloAddress.Equals(victimAddress));

        var clock = Stopwatch.StartNew();
        await Fixture.Cluster.KillSiloAsync(victim);
        try
        {
            // Only the segment is read from here on: nothing touches the host grain but the sweep.
            // Calls routed to the dead silo fail until membership declares it dead.
            await Eventually.WaitAsync(
                async () => !(await Segment(vni).GetAsync()).FloodList.Any(e => e.HostId == hostId),
                TimeSpan.FromSeconds(60),
                $"{hostId} to leave the flood list of {vni}");

            output.WriteLine($"withdrawn {clock.Elapsed} after the kill (DeadAfter {ClusterFixture.DeadAfter})");

            // The grain marks itself dead after its withdrawals succeed; one that failed (a MAC table on
            // the killed silo) is retried on the next liveness tick, so the flag may follow the flood list.
            await Eventually.AssertAsync(
                async () => Assert.False((await Host(hostId).GetAsync())!.Alive),
                TimeSpan.FromSeconds(30),
                $"{hostId}'s grain to show it dead");
        }
        finally
        {
            await Fixture.Cluster.StartAdditionalSiloAsync();
        }
    }
}
