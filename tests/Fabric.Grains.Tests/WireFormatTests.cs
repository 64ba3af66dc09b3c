using System.Net;
using Fabric.Addressing;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Fabric.Grains.Tests;

/// <summary>Every record and error crosses the wire intact (no cluster: the serializer alone).</summary>
[Trait("Category", "Unit")]
public sealed class WireFormatTests
{
    private static readonly Serializer Serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();

    private static T RoundTrip<T>(T value) => Serializer.Deserialize<T>(Serializer.SerializeToArray(value))!;

    [Fact]
    public void A_switch_config_with_trunk_and_access_port_groups_round_trips()
    {
        var config = new SwitchConfig(
            "sw1",
            9000,
            7,
            [
                new PortGroup("web", new Vni(5001), VlanPolicy.AccessOn(new VlanId(10)), SecurityPolicy.Default),
                new PortGroup("trunk", new Vni(5002), VlanPolicy.Trunk([new VlanRange(new VlanId(100), new VlanId(200))], new VlanId(100)), new SecurityPolicy(8, true, true)),
            ],
            [new SwitchMember("esx1", "eth1")]);

        var copy = RoundTrip(config);

        Assert.Equal(config with { PortGroups = copy.PortGroups, Members = copy.Members }, copy);
        Assert.Equal(config.PortGroups[0], copy.PortGroups[0]);
        Assert.Equal(config.PortGroups[1].Vlan.TrunkRanges, copy.PortGroups[1].Vlan.TrunkRanges);
        Assert.Equal(config.Members, copy.Members);
    }

    [Fact]
    public void A_mac_table_delta_with_a_move_and_an_ip_binding_round_trips()
    {
        var mac = MacAddress.Parse("02:00:00:00:00:01");
        var entry = new MacEntry(mac, "h2", IPAddress.Parse("10.0.0.2"), "vm1", 2, DateTimeOffset.UnixEpoch, false, false);
        var delta = new MacTableDelta(new Vni(5001), Guid.NewGuid(), 3, [new MacChange(MacChangeKind.Moved, entry, new MacLocation("h1", IPAddress.Parse("10.0.0.1"), "vm1"))], [new IpBindingChange(IPAddress.Parse("192.168.0.1"), mac)]);

        var copy = RoundTrip(delta);

        Assert.Equal(delta.Changes, copy.Changes);
        Assert.Equal(delta.IpBindings, copy.IpBindings);
        Assert.Equal((delta.Vni, delta.Epoch, delta.Version), (copy.Vni, copy.Epoch, copy.Version));
    }

    [Fact]
    public void Errors_keep_their_field_kind_name_and_message()
    {
        var validation = RoundTrip(new FabricValidationException("vni", "vni 0 is out of range"));
        Assert.Equal(("vni", "vni 0 is out of range"), (validation.Field, validation.Message));

        var missing = RoundTrip(new FabricNotFoundException("switch", "sw9"));
        Assert.Equal(("switch", "sw9", "switch 'sw9' does not exist."), (missing.Kind, missing.Name, missing.Message));
    }
}
