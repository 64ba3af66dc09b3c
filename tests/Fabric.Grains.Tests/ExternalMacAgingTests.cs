using System.Net;
using Fabric.Grains.Tests.Infrastructure;

namespace Fabric.Grains.Tests;

/// <summary>
/// A MAC an agent learned behind an external VTEP (RFC 7348 §4.1) has no host whose death withdraws
/// it: it ages out of the MAC table unless agents learn it again, as they do while it is in use.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class ExternalMacAgingTests(ClusterFixture fixture) : ClusterTest(fixture)
{
    private static readonly IPAddress Kernel = IPAddress.Parse("10.0.0.33");

    private static MacLearnRequest BehindKernel(Addressing.MacAddress mac) => new(mac, ExternalVteps.HostId(Kernel), Kernel, ExternalVteps.Port);

    [Fact]
    public async Task A_mac_learned_behind_an_external_vtep_ages_out_unless_learned_again_while_static_and_agent_macs_stay()
    {
        var vni = Names.NextVni();
        var idle = Names.NextMac();
        var busy = Names.NextMac();
        var pinned = Names.NextMac();
        var atAgent = Names.NextMac();
        var recorder = new MacTableRecorder();
        await MacTable(vni).SubscribeAsync(Fixture.Client.CreateObjectReference<IMacTableObserver>(recorder));
        await MacTable(vni).LearnAsync([BehindKernel(idle), BehindKernel(busy), Learn(atAgent, "host-a", 1)]);
        await MacTable(vni).SetStaticAsync(pinned, ExternalVteps.HostId(Kernel), Kernel, ExternalVteps.Port);

        // Keep learning "busy" well inside the ageing time until "idle" is gone.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline && (await MacTable(vni).GetSnapshotAsync()).Entries.Any(e => e.Mac == idle))
        {
            await MacTable(vni).LearnAsync([BehindKernel(busy)]);
            await Task.Delay(ClusterFixture.ExternalAgingTime / 6);
        }

        var macs = (await MacTable(vni).GetSnapshotAsync()).Entries.Select(e => e.Mac).ToHashSet();
        Assert.DoesNotContain(idle, macs);
        Assert.Contains(busy, macs);
        Assert.Contains(pinned, macs);
        Assert.Contains(atAgent, macs);
        await recorder.Deltas.WaitForAsync(d => d.Changes.Any(c => c.Kind == MacChangeKind.Removed && c.Entry.Mac == idle));
        GC.KeepAlive(recorder);
    }
}
