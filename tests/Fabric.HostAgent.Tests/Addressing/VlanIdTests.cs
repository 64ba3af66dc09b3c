using Fabric.Addressing;

namespace Fabric.HostAgent.Tests.Addressing;

[Trait("Category", "Unit")]
public sealed class VlanIdTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(4094)]
    public void Vlan_ids_from_1_to_4094_are_valid(int value)
    {
        Assert.True(VlanId.TryCreate(value, out var vlan));
        Assert.Equal(value, vlan.Value);
        Assert.Equal(value.ToString(System.Globalization.CultureInfo.InvariantCulture), vlan.ToString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4095)]
    [InlineData(4096)]
    [InlineData(-1)]
    public void Priority_tag_reserved_and_out_of_range_vlan_ids_are_rejected(int value)
    {
        Assert.False(VlanId.TryCreate(value, out _));
        Assert.False(VlanId.IsValid(value));
        Assert.Throws<ArgumentOutOfRangeException>(() => new VlanId(value));
    }
}
