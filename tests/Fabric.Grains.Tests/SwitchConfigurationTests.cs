using Fabric.Addressing;
using Fabric.Grains.Tests.Infrastructure;

namespace Fabric.Grains.Tests;

[Collection(ClusterCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class SwitchConfigurationTests(ClusterFixture fixture) : ClusterTest(fixture)
{
    [Fact]
    public async Task A_new_switch_has_version_one_and_every_change_bumps_the_version()
    {
        string sw = Names.Unique("sw");
        var created = await Switch(sw).ConfigureAsync(new SwitchSettings(1500));
        Assert.Equal(1, created.Version);
        Assert.Equal(1500, created.Mtu);

        var withPortGroup = await Switch(sw).SetPortGroupAsync("web", new PortGroupSpec(Names.NextVni()));
        Assert.Equal(2, withPortGroup.Version);
        var pg = Assert.Single(withPortGroup.PortGroups);
        Assert.Equal(VlanMode.Access, pg.Vlan.Mode);
        Assert.Null(pg.Vlan.AccessVlan);
        Assert.Equal(SecurityPolicy.Default, pg.Security);

        var withMember = await Switch(sw).AddHostAsync("esx1", "eth1");
        Assert.Equal(3, withMember.Version);
        Assert.Equal(new SwitchMember("esx1", "eth1"), Assert.Single(withMember.Members));
        Assert.Contains(sw, await Directory.ListSwitchesAsync());
    }

    [Fact]
    public async Task Repeating_the_same_change_does_not_bump_the_version()
    {
        var (sw, pg, vni) = await NewPortGroupAsync();
        var trunk = new PortGroupSpec(Names.NextVni(), VlanPolicy.Trunk([new VlanRange(new VlanId(100), new VlanId(199))], new VlanId(100)));
        var first = await Switch(sw).SetPortGroupAsync("trunk", trunk);
        var second = await Switch(sw).SetPortGroupAsync("trunk", trunk with { Vlan = VlanPolicy.Trunk([new VlanRange(new VlanId(100), new VlanId(199))], new VlanId(100)) });
        var settings = await Switch(sw).ConfigureAsync(new SwitchSettings(1500));

        Assert.Equal(first.Version, second.Version);
        Assert.Equal(first.Version, settings.Version);
        Assert.Equal(vni, second.PortGroups.Single(p => p.Name == pg).Vni);
    }

    [Theory]
    [InlineData("star*name")]
    [InlineData("has space")]
    [InlineData("slash/name")]
    [InlineData("a-name-that-is-much-too-long-for-a-switch-because-it-has-more-than-64-chars")]
    public async Task A_bad_switch_name_is_rejected_and_nothing_is_created(string name)
    {
        var error = await Assert.ThrowsAsync<FabricValidationException>(() => Switch(name).ConfigureAsync(new SwitchSettings(1500)));
        Assert.Equal("name", error.Field);
        Assert.Null(await Switch(name).GetAsync());
    }

    [Theory]
    [InlineData(575)]
    [InlineData(9217)]
    public async Task An_mtu_out_of_range_is_rejected_and_the_version_is_unchanged(int mtu)
    {
        string sw = await NewSwitchAsync();
        var error = await Assert.ThrowsAsync<FabricValidationException>(() => Switch(sw).ConfigureAsync(new SwitchSettings(mtu)));
        Assert.Equal("mtu", error.Field);
        Assert.Contains("mtu", error.Message);
        var config = await Switch(sw).GetAsync();
        Assert.Equal(1, config!.Version);
        Assert.Equal(1500, config.Mtu);
    }

    public static TheoryData<string, string> BadPortGroups => new()
    {
        { "vni-zero", "vni" },
        { "access-vlan-zero", "vlan.accessVlan" },
        { "access-vlan-4095", "vlan.accessVlan" },
        { "access-with-trunk-ranges", "vlan.trunkRanges" },
        { "trunk-without-ranges", "vlan.trunkRanges" },
        { "trunk-inverted-range", "vlan.trunkRanges" },
        { "trunk-overlapping-ranges", "vlan.trunkRanges" },
        { "trunk-native-outside-ranges", "vlan.nativeVlan" },
        { "mac-limit-zero", "security.macLimit" },
        { "bad-name", "portGroup" },
    };

    [Theory]
    [MemberData(nameof(BadPortGroups))]
    public async Task A_bad_port_group_is_rejected_with_the_field_named_and_the_version_is_unchanged(string @case, string field)
    {
        var (sw, _, _) = await NewPortGroupAsync();
        var before = await Switch(sw).GetAsync();
        var vni = Names.NextVni();
        var range = new VlanRange(new VlanId(10), new VlanId(20));
        string name = "pg2";
        PortGroupSpec spec = @case switch
        {
            "vni-zero" => new PortGroupSpec(default),
            "access-vlan-zero" => new PortGroupSpec(vni, VlanPolicy.AccessOn(default)),
            "access-vlan-4095" => new PortGroupSpec(vni, VlanPolicy.AccessOn(Unchecked(4095))),
            "access-with-trunk-ranges" => new PortGroupSpec(vni, new VlanPolicy(VlanMode.Access, null, [range], null)),
            "trunk-without-ranges" => new PortGroupSpec(vni, VlanPolicy.Trunk([])),
            "trunk-inverted-range" => new PortGroupSpec(vni, VlanPolicy.Trunk([new VlanRange(new VlanId(20), new VlanId(10))])),
            "trunk-overlapping-ranges" => new PortGroupSpec(vni, VlanPolicy.Trunk([range, new VlanRange(new VlanId(20), new VlanId(30))])),
            "trunk-native-outside-ranges" => new PortGroupSpec(vni, VlanPolicy.Trunk([range], new VlanId(99))),
            "mac-limit-zero" => new PortGroupSpec(vni, null, new SecurityPolicy(0, false, false)),
            "bad-name" => new PortGroupSpec(vni),
            _ => throw new ArgumentOutOfRangeException(nameof(@case)),
        };
        if (@case == "bad-name")
        {
            name = "no spaces";
        }

        var error = await Assert.ThrowsAsync<FabricValidationException>(() => Switch(sw).SetPortGroupAsync(name, spec));
        Assert.Equal(field, error.Field);
        var after = await Switch(sw).GetAsync();
        Assert.Equal(before!.Version, after!.Version);
        Assert.Single(after.PortGroups);
        Assert.Null(await Directory.FindVniAsync(vni));
    }

    [Fact]
    public async Task A_vni_already_used_on_the_same_switch_is_rejected()
    {
        var (sw, _, vni) = await NewPortGroupAsync();
        var error = await Assert.ThrowsAsync<FabricValidationException>(() => Switch(sw).SetPortGroupAsync("db", new PortGroupSpec(vni)));
        Assert.Equal("vni", error.Field);
        Assert.Equal(2, (await Switch(sw).GetAsync())!.Version);
    }

    [Fact]
    public async Task A_vni_already_used_on_another_switch_is_rejected_because_a_vni_is_fabric_wide()
    {
        var (owner, pg, vni) = await NewPortGroupAsync();
        string other = await NewSwitchAsync();
        var error = await Assert.ThrowsAsync<FabricValidationException>(() => Switch(other).SetPortGroupAsync("web", new PortGroupSpec(vni)));
        Assert.Equal("vni", error.Field);
        Assert.Contains(owner, error.Message);
        Assert.Empty((await Switch(other).GetAsync())!.PortGroups);
        Assert.Equal(new VniClaim(vni, owner, pg), await Directory.FindVniAsync(vni));
    }

    [Fact]
    public async Task Changing_or_removing_a_port_group_releases_its_old_vni()
    {
        var (sw, pg, vni) = await NewPortGroupAsync();
        var newVni = Names.NextVni();
        await Switch(sw).SetPortGroupAsync(pg, new PortGroupSpec(newVni));
        Assert.Null(await Directory.FindVniAsync(vni));
        Assert.Equal(new VniClaim(newVni, sw, pg), await Directory.FindVniAsync(newVni));

        await Switch(sw).RemovePortGroupAsync(pg);
        Assert.Null(await Directory.FindVniAsync(newVni));
    }

    [Fact]
    public async Task A_port_group_on_an_unknown_switch_is_not_found()
    {
        string sw = Names.Unique("missing");
        var error = await Assert.ThrowsAsync<FabricNotFoundException>(() => Switch(sw).SetPortGroupAsync("web", new PortGroupSpec(Names.NextVni())));
        Assert.Equal("switch", error.Kind);
        Assert.Equal(sw, error.Name);
        Assert.Null(await Switch(sw).GetAsync());
    }

    [Fact]
    public async Task Removing_an_unknown_port_group_is_not_found()
    {
        string sw = await NewSwitchAsync();
        var error = await Assert.ThrowsAsync<FabricNotFoundException>(() => Switch(sw).RemovePortGroupAsync("nope"));
        Assert.Equal("port group", error.Kind);
    }

    [Fact]
    public async Task A_switch_with_port_groups_cannot_be_deleted_and_an_empty_one_can()
    {
        var (sw, pg, _) = await NewPortGroupAsync();
        var error = await Assert.ThrowsAsync<FabricValidationException>(() => Switch(sw).DeleteAsync());
        Assert.Equal("portGroups", error.Field);

        var removed = await Switch(sw).RemovePortGroupAsync(pg);
        await Switch(sw).DeleteAsync();
        Assert.Null(await Switch(sw).GetAsync());
        Assert.DoesNotContain(sw, await Directory.ListSwitchesAsync());

        // Recreated, the generation keeps growing so an agent never sees it go back.
        var again = await Switch(sw).ConfigureAsync(new SwitchSettings(9000));
        Assert.True(again.Version > removed.Version);
    }

    private static VlanId Unchecked(ushort value) => System.Runtime.CompilerServices.Unsafe.As<ushort, VlanId>(ref value);
}
