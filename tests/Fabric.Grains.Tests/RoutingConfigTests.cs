using System.Net;
using Fabric.Addressing;
using Fabric.Grains.Tests.Infrastructure;

namespace Fabric.Grains.Tests;

/// <summary>
/// The routing domain and DHCP settings of port groups: validated with the field named, and a host
/// with a port in a routed port group joins every routed segment of its switch (EVPN asymmetric
/// IRB, RFC 9135 §4), never one that is not routed.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class RoutingConfigTests(ClusterFixture fixture) : ClusterTest(fixture)
{
    public static TheoryData<string, PortGroupSpec> BadSpecs => new()
    {
        { "routed", new PortGroupSpec(new Vni(1), Routed: true) },
        { "routed", new PortGroupSpec(new Vni(1), Ipv4: new("10.70.0.0/24"), Routed: true) },
        { "ipv4.dhcp", new PortGroupSpec(new Vni(1), Ipv4: new("10.70.0.0/24", Dhcp: true)) },
        { "ipv4.dnsServers[1]", new PortGroupSpec(new Vni(1), Ipv4: new("10.70.0.0/24", "10.70.0.1", DnsServers: ["10.70.0.2", "224.0.0.1"])) },
        { "ipv4.dnsServers[0]", new PortGroupSpec(new Vni(1), Ipv4: new("10.70.0.0/24", "10.70.0.1", DnsServers: ["dns.example"])) },
        { "ipv4.dnsServers", new PortGroupSpec(new Vni(1), Ipv4: new("10.70.0.0/24", "10.70.0.1", DnsServers: [.. Enumerable.Range(1, 9).Select(i => $"10.70.0.{i + 1}")])) },
        { "ipv4.leaseTime", new PortGroupSpec(new Vni(1), Ipv4: new("10.70.0.0/24", "10.70.0.1", Dhcp: true, LeaseTime: 59)) },
        { "ipv4.leaseTime", new PortGroupSpec(new Vni(1), Ipv4: new("10.70.0.0/24", "10.70.0.1", Dhcp: true, LeaseTime: 604_801)) },
    };

    public static TheoryData<string, PortGroupSpec> BadModes => new()
    {
        { "network", new PortGroupSpec(new Vni(1), Network: NetworkMode.HostOnly) },
        { "network", new PortGroupSpec(new Vni(1), Ipv4: new("10.73.0.0/24"), Network: NetworkMode.Nat) },
        { "network", new PortGroupSpec(new Vni(1), Network: (NetworkMode)9) },
        { "routed", new PortGroupSpec(new Vni(1), Ipv4: new("10.73.0.0/24", "10.73.0.1"), Routed: true, Network: NetworkMode.Nat) },
        { "ipv4.dhcp", new PortGroupSpec(new Vni(1), Ipv4: new("10.73.0.0/24", "10.73.0.1", Dhcp: true), Network: NetworkMode.Bridged) },
        { "bridged.uplinkVlan", new PortGroupSpec(new Vni(1), UplinkVlan: new VlanId(100)) },
        { "portForwards", new PortGroupSpec(new Vni(1), Ipv4: new("10.73.0.0/24", "10.73.0.1"), Network: NetworkMode.HostOnly, PortForwards: [Forward("tcp", 80, "10.73.0.5", 80)]) },
        { "portForwards[0].protocol", Nat(Forward("sctp", 80, "10.73.0.5", 80)) },
        { "portForwards[0].hostPort", Nat(Forward("tcp", 0, "10.73.0.5", 80)) },
        { "portForwards[0].vmPort", Nat(Forward("tcp", 80, "10.73.0.5", 65536)) },
        { "portForwards[0].vmAddress", Nat(Forward("tcp", 80, "10.74.0.5", 80)) },
        { "portForwards[0].vmAddress", Nat(Forward("tcp", 80, "10.73.0.1", 80)) },
        { "portForwards[1].hostPort", Nat(Forward("tcp", 80, "10.73.0.5", 80), Forward("TCP", 80, "10.73.0.6", 80)) },
    };

    private static PortForward Forward(string protocol, int hostPort, string vm, int vmPort) => new(protocol, hostPort, IPAddress.Parse(vm), vmPort);

    private static PortGroupSpec Nat(params PortForward[] forwards)
        => new(new Vni(1), Ipv4: new("10.73.0.0/24", "10.73.0.1"), Network: NetworkMode.Nat, PortForwards: forwards);

    [Theory]
    [MemberData(nameof(BadModes))]
    public async Task A_bad_network_mode_setting_is_refused_naming_the_field(string field, PortGroupSpec spec)
    {
        string sw = await NewSwitchAsync();
        var error = await Assert.ThrowsAsync<FabricValidationException>(() => Switch(sw).SetPortGroupAsync("web", spec with { Vni = Names.NextVni() }));
        Assert.Equal(field, error.Field);
        Assert.Empty((await Switch(sw).GetAsync())!.PortGroups);
    }

    [Fact]
    public async Task Port_forwards_and_untagged_uplinks_are_unique_on_a_switch()
    {
        string sw = await NewSwitchAsync();
        await Switch(sw).SetPortGroupAsync("a", Nat(Forward("tcp", 8080, "10.73.0.5", 80)) with { Vni = Names.NextVni() });
        var forward = await Assert.ThrowsAsync<FabricValidationException>(() => Switch(sw).SetPortGroupAsync("b",
            new PortGroupSpec(Names.NextVni(), Ipv4: new("10.75.0.0/24", "10.75.0.1"), Network: NetworkMode.Nat, PortForwards: [Forward("tcp", 8080, "10.75.0.5", 80)])));
        Assert.Equal("portForwards[0].hostPort", forward.Field);
        await Switch(sw).SetPortGroupAsync("b", new PortGroupSpec(Names.NextVni(), Ipv4: new("10.75.0.0/24", "10.75.0.1"), Network: NetworkMode.Nat, PortForwards: [Forward("udp", 8080, "10.75.0.5", 80)]));

        await Switch(sw).SetPortGroupAsync("lan", new PortGroupSpec(Names.NextVni(), Network: NetworkMode.Bridged));
        var untagged = await Assert.ThrowsAsync<FabricValidationException>(() => Switch(sw).SetPortGroupAsync("lan2", new PortGroupSpec(Names.NextVni(), Network: NetworkMode.Bridged)));
        Assert.Equal("bridged.uplinkVlan", untagged.Field);
        await Switch(sw).SetPortGroupAsync("lan2", new PortGroupSpec(Names.NextVni(), Network: NetworkMode.Bridged, UplinkVlan: new VlanId(100)));
        var tagged = await Assert.ThrowsAsync<FabricValidationException>(() => Switch(sw).SetPortGroupAsync("lan3", new PortGroupSpec(Names.NextVni(), Network: NetworkMode.Bridged, UplinkVlan: new VlanId(100))));
        Assert.Equal("bridged.uplinkVlan", tagged.Field);
    }

    [Fact]
    public async Task A_host_joins_no_segment_of_a_host_local_port_group()
    {
        string sw = await NewSwitchAsync();
        Vni nat = Names.NextVni(), overlay = Names.NextVni();
        await Switch(sw).SetPortGroupAsync("nat", new PortGroupSpec(nat, Ipv4: new("10.76.0.0/24", "10.76.0.1"), Network: NetworkMode.Nat));
        await Switch(sw).SetPortGroupAsync("web", new PortGroupSpec(overlay));
        string host = $"h-{Guid.NewGuid():N}";

        await RegisterAsync(host, sw, Vtep(76), ("vm1", "nat"), ("vm2", "web"));

        Assert.DoesNotContain(host, (await Segment(nat).GetAsync()).FloodList.Select(e => e.HostId));
        Assert.Contains(host, (await Segment(overlay).GetAsync()).FloodList.Select(e => e.HostId));
    }

    [Theory]
    [MemberData(nameof(BadSpecs))]
    public async Task A_bad_routing_or_dhcp_setting_is_refused_naming_the_field(string field, PortGroupSpec spec)
    {
        string sw = await NewSwitchAsync();
        var error = await Assert.ThrowsAsync<FabricValidationException>(() => Switch(sw).SetPortGroupAsync("web", spec with { Vni = Names.NextVni() }));
        Assert.Equal(field, error.Field);
        Assert.Empty((await Switch(sw).GetAsync())!.PortGroups);
    }

    [Fact]
    public async Task Dhcp_settings_are_kept_and_a_change_of_them_is_a_new_generation()
    {
        string sw = await NewSwitchAsync();
        var vni = Names.NextVni();
        var pool = new Ipv4PoolSpec("10.71.0.0/24", "10.71.0.1", Dhcp: true, DnsServers: ["10.71.0.53", "192.0.2.53"], LeaseTime: 600);
        await Switch(sw).SetPortGroupAsync("web", new PortGroupSpec(vni, Ipv4: pool, Routed: true));
        var config = (await Switch(sw).GetAsync())!;
        long version = config.Version;
        var group = Assert.Single(config.PortGroups);

        Assert.True(group.Routed);
        Assert.True(group.Ipv4!.Dhcp);
        Assert.Equal([IPAddress.Parse("10.71.0.53"), IPAddress.Parse("192.0.2.53")], group.Ipv4.Dns);
        Assert.Equal(600, group.Ipv4.LeaseTime);

        await Switch(sw).SetPortGroupAsync("web", new PortGroupSpec(vni, Ipv4: pool with { LeaseTime = 900 }, Routed: true));
        Assert.Equal(version + 1, (await Switch(sw).GetAsync())!.Version);
        await Switch(sw).SetPortGroupAsync("web", new PortGroupSpec(vni, Ipv4: pool with { LeaseTime = 900 }, Routed: true));
        Assert.Equal(version + 1, (await Switch(sw).GetAsync())!.Version);
    }

    [Fact]
    public async Task A_host_with_a_routed_port_joins_every_routed_segment_of_its_switch_and_no_other()
    {
        string sw = await NewSwitchAsync();
        Vni web = Names.NextVni(), db = Names.NextVni(), isolated = Names.NextVni();
        await Switch(sw).SetPortGroupAsync("web", new PortGroupSpec(web, Ipv4: new("10.72.1.0/24", "10.72.1.1"), Routed: true));
        await Switch(sw).SetPortGroupAsync("db", new PortGroupSpec(db, Ipv4: new("10.72.2.0/24", "10.72.2.1"), Routed: true));
        await Switch(sw).SetPortGroupAsync("isolated", new PortGroupSpec(isolated, Ipv4: new("10.72.3.0/24", "10.72.3.1")));
        string routedHost = $"h-{Guid.NewGuid():N}", isolatedHost = $"h-{Guid.NewGuid():N}";

        await RegisterAsync(routedHost, sw, Vtep(71), ("vm1", "web"));
        await RegisterAsync(isolatedHost, sw, Vtep(72), ("vm1", "isolated"));

        Assert.Contains(routedHost, (await Segment(db).GetAsync()).FloodList.Select(e => e.HostId));
        Assert.Contains(routedHost, (await Segment(web).GetAsync()).FloodList.Select(e => e.HostId));
        Assert.DoesNotContain(routedHost, (await Segment(isolated).GetAsync()).FloodList.Select(e => e.HostId));
        Assert.DoesNotContain(isolatedHost, (await Segment(db).GetAsync()).FloodList.Select(e => e.HostId));

        // Its port leaves the routed port group: it leaves the whole routing domain.
        await RegisterAsync(routedHost, sw, Vtep(71), ("vm1", "isolated"));
        Assert.DoesNotContain(routedHost, (await Segment(db).GetAsync()).FloodList.Select(e => e.HostId));
        Assert.DoesNotContain(routedHost, (await Segment(web).GetAsync()).FloodList.Select(e => e.HostId));
    }
}
