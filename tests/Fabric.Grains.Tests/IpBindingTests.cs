using System.Net;
using Fabric.Addressing;
using Fabric.Grains.Tests.Infrastructure;

namespace Fabric.Grains.Tests;

/// <summary>
/// IP bindings as EVPN MAC/IP mobility (RFC 9161 §3, RFC 7432 §15): one binding per address, moved by
/// a newer claim with a higher sequence, flagged duplicate when it keeps flipping (RFC 7432 §15.1
/// applied to the address), withdrawn with its MAC.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class IpBindingTests(ClusterFixture fixture) : ClusterTest(fixture)
{
    private static readonly IPAddress Vip = IPAddress.Parse("192.168.100.50");

    private static MacLearnRequest Claim(MacAddress mac, string hostId, int vtep, IPAddress ip) => Learn(mac, hostId, vtep) with { Ip = ip };

    private async Task<IpBinding?> BindingAsync(Vni vni, IPAddress ip)
        => (await MacTable(vni).GetSnapshotAsync()).IpBindings.SingleOrDefault(b => b.Ip.Equals(ip));

    [Fact]
    public async Task A_newer_claim_by_another_mac_moves_the_address_with_the_next_sequence_and_tells_every_subscriber()
    {
        var vni = Names.NextVni();
        var first = Names.NextMac();
        var second = Names.NextMac();
        var recorder = new MacTableRecorder();
        await MacTable(vni).SubscribeAsync(Fixture.Client.CreateObjectReference<IMacTableObserver>(recorder));

        await MacTable(vni).LearnAsync([Claim(first, "host-a", 1, Vip)]);
        Assert.Equal(new IpBinding(Vip, first, 1, false), await BindingAsync(vni, Vip));

        // A VIP failing over: the other VM's gratuitous ARP, published by its agent.
        await MacTable(vni).LearnAsync([Claim(second, "host-b", 2, Vip)]);
        Assert.Equal(new IpBinding(Vip, second, 2, false), await BindingAsync(vni, Vip));
        var moved = await recorder.Deltas.WaitForAsync(d => d.IpBindings.Any(b => b.Ip.Equals(Vip) && b.Mac == second));
        Assert.Equal(new IpBindingChange(Vip, second, 2, false), Assert.Single(moved.IpBindings));

        // The first MAC keeps its own entry; a claim it repeats later moves the address back.
        await MacTable(vni).LearnAsync([Claim(first, "host-a", 1, Vip)]);
        Assert.Equal(new IpBinding(Vip, first, 3, false), await BindingAsync(vni, Vip));
        GC.KeepAlive(recorder);
    }

    [Fact]
    public async Task A_mac_may_hold_several_addresses_and_repeating_a_claim_changes_nothing()
    {
        var vni = Names.NextVni();
        var mac = Names.NextMac();
        IPAddress[] addresses = [IPAddress.Parse("192.168.100.11"), IPAddress.Parse("192.168.100.12"), Vip];

        await MacTable(vni).LearnAsync([.. addresses.Select(ip => Claim(mac, "host-a", 1, ip))]);
        var before = await MacTable(vni).GetSnapshotAsync();
        await MacTable(vni).LearnAsync([.. addresses.Select(ip => Claim(mac, "host-a", 1, ip))]);
        var after = await MacTable(vni).GetSnapshotAsync();

        Assert.Equal(before.Version, after.Version);
        Assert.Equal(addresses.Select(a => a.ToString()).Order(), after.IpBindings.Select(b => b.Ip.ToString()).Order());
        Assert.All(after.IpBindings, b => Assert.Equal((mac, 1L, false), (b.Mac, b.Sequence, b.Duplicate)));
    }

    [Fact]
    public async Task An_address_that_keeps_flipping_is_flagged_duplicate_stays_put_and_is_cleared_only_by_removing_it()
    {
        var vni = Names.NextVni();
        var a = Names.NextMac();
        var b = Names.NextMac();
        var recorder = new MacTableRecorder();
        await MacTable(vni).SubscribeAsync(Fixture.Client.CreateObjectReference<IMacTableObserver>(recorder));
        await MacTable(vni).LearnAsync([Claim(a, "host-a", 1, Vip)]);

        // Five moves are mobility (MaxMoves 5 in 180 s); the sixth flags the address where it is.
        for (int move = 1; move <= 6; move++)
        {
            var (mac, host, vtep) = move % 2 == 1 ? (b, "host-b", 2) : (a, "host-a", 1);
            await MacTable(vni).LearnAsync([Claim(mac, host, vtep, Vip)]);
        }

        var flagged = await BindingAsync(vni, Vip);
        Assert.Equal(new IpBinding(Vip, b, 6, true), flagged); // the fifth move left it at b
        await recorder.Deltas.WaitForAsync(d => d.IpBindings.Any(c => c.Ip.Equals(Vip) && c.Duplicate));

        await MacTable(vni).LearnAsync([Claim(a, "host-a", 1, Vip)]);
        Assert.Equal(flagged, await BindingAsync(vni, Vip)); // refused while flagged

        Assert.True(await MacTable(vni).RemoveIpBindingAsync(Vip));
        Assert.Null(await BindingAsync(vni, Vip));
        Assert.False(await MacTable(vni).RemoveIpBindingAsync(Vip));
        await MacTable(vni).LearnAsync([Claim(a, "host-a", 1, Vip)]);
        Assert.Equal(new IpBinding(Vip, a, 1, false), await BindingAsync(vni, Vip));
        GC.KeepAlive(recorder);
    }

    [Fact]
    public async Task A_binding_whose_mac_is_gone_is_withdrawn_with_it()
    {
        var vni = Names.NextVni();
        var withdrawn = Names.NextMac();
        var removed = Names.NextMac();
        var other = IPAddress.Parse("192.168.100.51");
        await MacTable(vni).LearnAsync([Claim(withdrawn, "host-a", 1, Vip), Claim(removed, "host-b", 2, other)]);

        await MacTable(vni).WithdrawHostAsync("host-a");
        Assert.True(await MacTable(vni).RemoveAsync(removed));

        Assert.Empty((await MacTable(vni).GetSnapshotAsync()).IpBindings);
    }
}
