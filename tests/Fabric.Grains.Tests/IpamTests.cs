using System.Net;
using Fabric.Grains.Tests.Infrastructure;

namespace Fabric.Grains.Tests;

/// <summary>
/// Cluster-wide IPAM of a port group: one address per owner across every host, even under
/// concurrent requests; the network, broadcast, gateway and excluded addresses never handed out;
/// idempotent per owner; released, garbage-collected per host, refused with the field named.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class IpamTests(ClusterFixture fixture) : ClusterTest(fixture)
{
    private async Task<IIpamGrain> PoolAsync(Ipv4PoolSpec pool)
    {
        string sw = await NewSwitchAsync();
        await Switch(sw).SetPortGroupAsync("web", new PortGroupSpec(Names.NextVni(), Ipv4: pool));
        return Grains.GetGrain<IIpamGrain>(IIpamGrain.KeyOf(sw, "web"));
    }

    [Fact]
    public async Task Concurrent_requests_from_three_hosts_get_distinct_addresses_of_the_pool_and_never_reserved_ones()
    {
        // 10.20.0.0/24, gateway .1, excluded .2-.9 and .100: 244 allocatable addresses.
        var ipam = await PoolAsync(new Ipv4PoolSpec("10.20.0.0/24", "10.20.0.1", null, ["10.20.0.2-10.20.0.9", "10.20.0.100"]));
        var requests = Enumerable.Range(1, 3).SelectMany(h => Enumerable.Range(0, 50).Select(i => new IpAllocationRequest($"c{h}-{i}/eth0", $"host-{h}")));
        var allocations = await Task.WhenAll(requests.Select(ipam.AllocateAsync));

        Assert.Equal(150, allocations.Select(a => a.Address).Distinct().Count());
        var reserved = new[] { "10.20.0.0", "10.20.0.1", "10.20.0.100", "10.20.0.255" }.Select(IPAddress.Parse).ToHashSet();
        Assert.All(allocations, a =>
        {
            byte[] b = a.Address.GetAddressBytes();
            Assert.True(b[0] == 10 && b[1] == 20 && b[2] == 0, $"{a.Address} is outside 10.20.0.0/24");
            Assert.False(reserved.Contains(a.Address) || b[3] is >= 2 and <= 9, $"{a.Address} is reserved");
            Assert.Equal(24, a.PrefixLength);
            Assert.Equal(IPAddress.Parse("10.20.0.1"), a.Gateway);
        });
        Assert.Equal(150, (await ipam.ListAsync()).Count);
    }

    [Fact]
    public async Task An_owner_asking_again_gets_its_address_and_a_released_address_is_not_reused_at_once()
    {
        var ipam = await PoolAsync(new Ipv4PoolSpec("10.30.0.0/29")); // .1-.6
        var first = await ipam.AllocateAsync(new("a/eth0", "h1"));
        Assert.Equal(first, await ipam.AllocateAsync(new("a/eth0", "h1"))); // CNI ADD retried
        Assert.True(await ipam.ReleaseAsync("a/eth0"));
        Assert.False(await ipam.ReleaseAsync("a/eth0")); // DEL is idempotent
        var next = await ipam.AllocateAsync(new("b/eth0", "h1"));
        Assert.NotEqual(first.Address, next.Address);
    }

    [Fact]
    public async Task An_exhausted_pool_and_a_taken_or_reserved_requested_address_are_refused_naming_the_field()
    {
        var ipam = await PoolAsync(new Ipv4PoolSpec("10.40.0.0/30", "10.40.0.1")); // only .2 is left
        var only = await ipam.AllocateAsync(new("a/eth0", "h1"));
        Assert.Equal(IPAddress.Parse("10.40.0.2"), only.Address);
        var exhausted = await Assert.ThrowsAsync<FabricValidationException>(() => ipam.AllocateAsync(new("b/eth0", "h1")));
        Assert.Equal("ipv4.ranges", exhausted.Field);

        var taken = await Assert.ThrowsAsync<FabricValidationException>(() => ipam.AllocateAsync(new("c/eth0", "h2", IPAddress.Parse("10.40.0.2"))));
        Assert.Equal("ip", taken.Field);
        Assert.Contains("held by 'a/eth0'", taken.Message, StringComparison.Ordinal);
        var gateway = await Assert.ThrowsAsync<FabricValidationException>(() => ipam.AllocateAsync(new("c/eth0", "h2", IPAddress.Parse("10.40.0.1"))));
        Assert.Equal("ip", gateway.Field);
    }

    [Fact]
    public async Task A_lease_that_is_not_renewed_ends_and_its_address_goes_to_the_next_client()
    {
        // A /30 with its gateway: one allocatable address, 10.51.0.2.
        var ipam = await PoolAsync(new Ipv4PoolSpec("10.51.0.0/30", "10.51.0.1"));
        var first = await ipam.AllocateAsync(new("dhcp/02:00:00:00:00:01", "h1", LeaseSeconds: 1));
        Assert.Equal(IPAddress.Parse("10.51.0.2"), first.Address);
        Assert.NotNull(first.ExpiresAt);
        var exhausted = await Assert.ThrowsAsync<FabricValidationException>(() => ipam.AllocateAsync(new("dhcp/02:00:00:00:00:02", "h2", LeaseSeconds: 60)));
        Assert.Equal("ipv4.ranges", exhausted.Field);

        // Renewing a lease never shortens it; without renewal it ends, and the address is given again.
        var renewed = await ipam.AllocateAsync(new("dhcp/02:00:00:00:00:01", "h1", LeaseSeconds: 2));
        Assert.True(renewed.ExpiresAt > first.ExpiresAt);
        Assert.Equal(renewed.ExpiresAt, (await ipam.AllocateAsync(new("dhcp/02:00:00:00:00:01", "h1", LeaseSeconds: 1))).ExpiresAt);
        var second = await Eventually.ValueAsync(
            async () => { try { return await ipam.AllocateAsync(new("dhcp/02:00:00:00:00:02", "h2", LeaseSeconds: 60)); } catch (FabricValidationException) { return null; } },
            a => a is not null, TimeSpan.FromSeconds(10), "the ended lease's address handed to the next client");
        Assert.Equal(IPAddress.Parse("10.51.0.2"), second!.Address);
        Assert.Equal(["dhcp/02:00:00:00:00:02"], (await ipam.ListAsync()).Select(a => a.Owner));

        // An allocation made without a lease lasts until released, whatever is asked later.
        var permanent = await PoolAsync(new Ipv4PoolSpec("10.52.0.0/24"));
        var held = await permanent.AllocateAsync(new("ctr/eth0", "h1"));
        Assert.Null((await permanent.AllocateAsync(new("ctr/eth0", "h1", LeaseSeconds: 1))).ExpiresAt);
        Assert.Null(held.ExpiresAt);
        var bad = await Assert.ThrowsAsync<FabricValidationException>(() => permanent.AllocateAsync(new("dhcp/02:00:00:00:00:03", "h1", LeaseSeconds: 0)));
        Assert.Equal("leaseSeconds", bad.Field);
    }

    [Fact]
    public async Task Garbage_collection_releases_only_the_hosts_allocations_whose_owner_is_gone()
    {
        var ipam = await PoolAsync(new Ipv4PoolSpec("10.50.0.0/24"));
        await ipam.AllocateAsync(new("kept/eth0", "h1"));
        var gone = await ipam.AllocateAsync(new("gone/eth0", "h1"));
        await ipam.AllocateAsync(new("other-host/eth0", "h2"));
        await ipam.AllocateAsync(new("dhcp/02:00:00:00:00:07", "h1")); // a DHCP lease is its client's, not a host attachment

        var released = await ipam.GarbageCollectAsync("h1", ["kept/eth0"]);

        Assert.Equal([gone], released);
        Assert.Equal(["dhcp/02:00:00:00:00:07", "kept/eth0", "other-host/eth0"], (await ipam.ListAsync()).Select(a => a.Owner).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_port_group_without_a_pool_and_an_unknown_port_group_are_refused()
    {
        var (sw, pg, _) = await NewPortGroupAsync();
        var none = await Assert.ThrowsAsync<FabricValidationException>(() => Grains.GetGrain<IIpamGrain>(IIpamGrain.KeyOf(sw, pg)).AllocateAsync(new("a/eth0", "h1")));
        Assert.Equal("ipv4", none.Field);
        await Assert.ThrowsAsync<FabricNotFoundException>(() => Grains.GetGrain<IIpamGrain>(IIpamGrain.KeyOf(sw, "nope")).AllocateAsync(new("a/eth0", "h1")));
    }

    [Theory]
    [InlineData("10.20.0.0", null, null, null, "ipv4.subnet")]
    [InlineData("10.20.0.5/24", null, null, null, "ipv4.subnet")] // host bits
    [InlineData("10.20.0.0/31", null, null, null, "ipv4.subnet")]
    [InlineData("10.20.0.0/24", "10.21.0.1", null, null, "ipv4.gateway")]
    [InlineData("10.20.0.0/24", "10.20.0.255", null, null, "ipv4.gateway")]
    [InlineData("10.20.0.0/24", null, "10.20.1.1-10.20.1.9", null, "ipv4.ranges")]
    [InlineData("10.20.0.0/24", null, "10.20.0.9-10.20.0.1", null, "ipv4.ranges")]
    [InlineData("10.20.0.0/24", null, "10.20.0.1-10.20.0.9,10.20.0.5-10.20.0.20", null, "ipv4.ranges")]
    [InlineData("10.20.0.0/24", null, "10.20.0.5", "10.20.0.5", "ipv4.ranges")] // nothing left
    [InlineData("10.20.0.0/24", null, null, "10.99.0.1", "ipv4.exclude")]
    public async Task A_bad_pool_is_refused_naming_the_field(string subnet, string? gateway, string? ranges, string? exclude, string field)
    {
        string sw = await NewSwitchAsync();
        var spec = new Ipv4PoolSpec(subnet, gateway, ranges?.Split(','), exclude?.Split(','));
        var error = await Assert.ThrowsAsync<FabricValidationException>(() => Switch(sw).SetPortGroupAsync("web", new PortGroupSpec(Names.NextVni(), Ipv4: spec)));
        Assert.Equal(field, error.Field);
    }

    [Fact]
    public async Task Overlapping_subnets_on_one_switch_are_refused_and_on_two_switches_allowed()
    {
        string sw = await NewSwitchAsync();
        await Switch(sw).SetPortGroupAsync("web", new PortGroupSpec(Names.NextVni(), Ipv4: new("10.60.0.0/16")));
        var error = await Assert.ThrowsAsync<FabricValidationException>(() => Switch(sw).SetPortGroupAsync("db", new PortGroupSpec(Names.NextVni(), Ipv4: new("10.60.5.0/24"))));
        Assert.Equal("ipv4.subnet", error.Field);
        Assert.Contains("port group 'web'", error.Message, StringComparison.Ordinal);

        string other = await NewSwitchAsync(); // another tenant's switch: its own addressing domain
        await Switch(other).SetPortGroupAsync("db", new PortGroupSpec(Names.NextVni(), Ipv4: new("10.60.5.0/24")));

        // Setting the same pool again is no change.
        var before = (await Switch(sw).GetAsync())!.Version;
        await Switch(sw).SetPortGroupAsync("web", new PortGroupSpec((await Switch(sw).GetAsync())!.PortGroups[0].Vni, Ipv4: new("10.60.0.0/16")));
        Assert.Equal(before, (await Switch(sw).GetAsync())!.Version);
    }
}
