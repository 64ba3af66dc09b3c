using Fabric.Addressing;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Wire.TestFrames;

namespace Fabric.HostAgent.Tests.Wire;

[Trait("Category", "Unit")]
public sealed class VlanTaggingTests
{
    private static readonly byte[] Untagged = Hex("0a0b0c0d0e0f 001122334455 0800 450000140000400040110000");
    private static readonly byte[] Tagged = Hex("0a0b0c0d0e0f 001122334455 8100 a0c8 0800 450000140000400040110000");
    private static readonly VlanTag Vlan200Pcp5 = VlanTag.Create(new VlanId(200), priority: 5);

    [Fact]
    public void Pushing_a_tag_inserts_tpid_and_tci_after_the_source_mac()
    {
        var destination = new byte[64];
        Assert.True(VlanTagging.TryPush(Untagged, destination, Vlan200Pcp5, out int written, out _));
        Assert.Equal(Tagged, destination.AsSpan(0, written).ToArray());
    }

    [Fact]
    public void Popping_a_tag_returns_it_and_restores_the_untagged_frame()
    {
        var destination = new byte[64];
        Assert.True(VlanTagging.TryPop(Tagged, destination, out var tag, out int written, out _));
        Assert.Equal(Vlan200Pcp5, tag);
        Assert.Equal(Untagged, destination.AsSpan(0, written).ToArray());
    }

    [Fact]
    public void A_tag_can_be_pushed_and_popped_in_place_in_one_buffer()
    {
        var buffer = new byte[64];
        Untagged.CopyTo(buffer, 0);
        Assert.True(VlanTagging.TryPushInPlace(buffer, Untagged.Length, Vlan200Pcp5, out int tagged, out _));
        Assert.Equal(Tagged, buffer.AsSpan(0, tagged).ToArray());

        Assert.True(VlanTagging.TryPopInPlace(buffer, tagged, out var tag, out int untagged, out _));
        Assert.Equal(Vlan200Pcp5, tag);
        Assert.Equal(Untagged, buffer.AsSpan(0, untagged).ToArray());
    }

    [Fact]
    public void A_tag_can_be_pushed_into_headroom_before_the_frame()
    {
        var buffer = new byte[64];
        Untagged.CopyTo(buffer, 4);
        Assert.True(VlanTagging.TryPush(buffer.AsSpan(4, Untagged.Length), buffer, Vlan200Pcp5, out int written, out _));
        Assert.Equal(Tagged, buffer.AsSpan(0, written).ToArray());

        // And popped back towards the end of the buffer.
        Assert.True(VlanTagging.TryPop(buffer.AsSpan(0, written), buffer.AsSpan(4), out _, out int popped, out _));
        Assert.Equal(Untagged, buffer.AsSpan(4, popped).ToArray());
    }

    [Fact]
    public void Pushing_onto_a_tagged_frame_is_refused_as_stacking()
    {
        Assert.False(VlanTagging.TryPush(Tagged, new byte[64], Vlan200Pcp5, out _, out var reason));
        Assert.Equal(DropReason.StackedVlanTags, reason);
    }

    [Fact]
    public void Popping_from_an_untagged_frame_is_refused_as_not_tagged()
    {
        Assert.False(VlanTagging.TryPop(Untagged, new byte[64], out _, out _, out var reason));
        Assert.Equal(DropReason.NotTagged, reason);
    }

    [Fact]
    public void Popping_from_a_double_tagged_frame_is_refused_as_stacking()
    {
        byte[] frame = Hex("0a0b0c0d0e0f 001122334455 8100 0001 8100 00c8 0800");
        Assert.False(VlanTagging.TryPop(frame, new byte[64], out _, out _, out var reason));
        Assert.Equal(DropReason.StackedVlanTags, reason);
    }

    [Fact]
    public void Pushing_the_reserved_vid_4095_is_refused()
    {
        Assert.False(VlanTagging.TryPush(Untagged, new byte[64], new VlanTag(0x0FFF), out _, out var reason));
        Assert.Equal(DropReason.ReservedVlanId, reason);
    }

    [Fact]
    public void A_destination_without_room_is_refused_without_writing()
    {
        var destination = new byte[Untagged.Length + 3];
        Assert.False(VlanTagging.TryPush(Untagged, destination, Vlan200Pcp5, out _, out var reason));
        Assert.Equal(DropReason.DestinationTooSmall, reason);
        Assert.All(destination, b => Assert.Equal(0, b));

        Assert.False(VlanTagging.TryPushInPlace(Untagged.ToArray(), Untagged.Length, Vlan200Pcp5, out _, out reason));
        Assert.Equal(DropReason.DestinationTooSmall, reason);
    }

    [Fact]
    public void Every_truncation_below_a_header_is_refused_by_push_and_pop()
    {
        for (int length = 0; length < 14; length++)
        {
            Assert.False(VlanTagging.TryPush(Untagged.AsSpan(0, length), new byte[64], Vlan200Pcp5, out _, out var reason));
            Assert.Equal(DropReason.Truncated, reason);
        }

        for (int length = 0; length < 18; length++)
        {
            Assert.False(VlanTagging.TryPop(Tagged.AsSpan(0, length), new byte[64], out _, out _, out var reason));
            Assert.NotEqual(DropReason.None, reason);
        }
    }

    [Fact]
    public void A_negative_or_oversized_in_place_length_does_not_throw()
    {
        Assert.False(VlanTagging.TryPushInPlace(new byte[20], -5, Vlan200Pcp5, out _, out _));
        Assert.False(VlanTagging.TryPopInPlace(new byte[20], 500, out _, out _, out _));
    }
}
