using Fabric.Addressing;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Wire.TestFrames;

namespace Fabric.HostAgent.Tests.Wire;

[Trait("Category", "Unit")]
public sealed class EthernetFrameTests
{
    private static readonly byte[] Untagged = Hex("ffffffffffff 001122334455 0800 4500");

    // PCP 5, DEI 1, VID 100: TCI = 101 1 0000 0110 0100 = 0xB064.
    private static readonly byte[] Tagged = Hex("0a0b0c0d0e0f 001122334455 8100 b064 0806 0001");

    [Fact]
    public void An_untagged_frame_yields_its_macs_ethertype_and_payload()
    {
        Assert.True(EthernetFrame.TryParse(Untagged, out var eth, out var reason));
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(MacAddress.Broadcast, eth.Destination);
        Assert.Equal(MacAddress.Parse("00:11:22:33:44:55"), eth.Source);
        Assert.False(eth.IsTagged);
        Assert.Equal(EtherType.Ipv4, eth.EtherType);
        Assert.Equal(14, eth.PayloadOffset);
        Assert.Equal(Hex("4500"), eth.Payload.ToArray());
    }

    [Fact]
    public void An_802_1q_tag_yields_pcp_dei_and_vid_and_the_inner_ethertype()
    {
        Assert.True(EthernetFrame.TryParse(Tagged, out var eth, out _));
        Assert.True(eth.IsTagged);
        Assert.Equal(5, eth.Tag.Priority);
        Assert.True(eth.Tag.DropEligible);
        Assert.Equal(100, eth.Tag.Vid);
        Assert.True(eth.Tag.TryGetVlanId(out var vlan));
        Assert.Equal(new VlanId(100), vlan);
        Assert.Equal(EtherType.Arp, eth.EtherType);
        Assert.Equal(Hex("0001"), eth.Payload.ToArray());
    }

    [Fact]
    public void A_priority_tag_with_vid_0_is_accepted_and_names_no_vlan()
    {
        byte[] frame = Hex("0a0b0c0d0e0f 001122334455 8100 6000 0800");
        Assert.True(EthernetFrame.TryParse(frame, out var eth, out _));
        Assert.True(eth.Tag.IsPriorityTag);
        Assert.Equal(3, eth.Tag.Priority);
        Assert.False(eth.Tag.TryGetVlanId(out _));
    }

    [Theory]
    [InlineData("88a8 0064 8100 00c8 0800")] // 802.1ad S-tag over a C-tag
    [InlineData("88a8 0064 0800")]           // a lone S-tag
    [InlineData("9100 0064 8100 00c8 0800")] // pre-standard QinQ
    [InlineData("8100 0001 8100 00c8 0800")] // double 802.1Q: the VLAN hopping frame
    [InlineData("8100 0064 88a8 00c8 0800")]
    public void Stacked_vlan_tags_are_reported_as_their_own_drop_reason(string tags)
    {
        byte[] frame = Hex("0a0b0c0d0e0f 001122334455 " + tags);
        Assert.False(EthernetFrame.TryParse(frame, out _, out var reason));
        Assert.Equal(DropReason.StackedVlanTags, reason);
    }

    [Fact]
    public void Vid_4095_is_reserved_and_dropped()
    {
        byte[] frame = Hex("0a0b0c0d0e0f 001122334455 8100 0fff 0800");
        Assert.False(EthernetFrame.TryParse(frame, out _, out var reason));
        Assert.Equal(DropReason.ReservedVlanId, reason);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_truncation_of_an_ethernet_header_is_dropped_as_truncated(bool tagged)
    {
        byte[] frame = tagged ? Tagged : Untagged;
        int header = tagged ? 18 : 14;
        for (int length = 0; length < header; length++)
        {
            Assert.False(EthernetFrame.TryParse(frame.AsSpan(0, length), out _, out var reason));
            Assert.Equal(DropReason.Truncated, reason);
        }

        Assert.True(EthernetFrame.TryParse(frame.AsSpan(0, header), out var eth, out _));
        Assert.True(eth.Payload.IsEmpty);
    }

    [Fact]
    public void Written_headers_match_the_golden_bytes()
    {
        var untagged = new byte[14];
        Assert.Equal(14, EthernetFrame.WriteHeader(untagged, MacAddress.Broadcast, MacAddress.Parse("00:11:22:33:44:55"), EtherType.Ipv4));
        Assert.Equal(Untagged.AsSpan(0, 14).ToArray(), untagged);

        var tagged = new byte[18];
        var tag = VlanTag.Create(new VlanId(100), priority: 5, dropEligible: true);
        Assert.Equal(0xB064, tag.Tci);
        Assert.Equal(18, EthernetFrame.WriteTaggedHeader(tagged, MacAddress.Parse("0a:0b:0c:0d:0e:0f"), MacAddress.Parse("00:11:22:33:44:55"), tag, EtherType.Arp));
        Assert.Equal(Tagged.AsSpan(0, 18).ToArray(), tagged);
    }

    [Fact]
    public void A_priority_code_point_above_7_is_rejected()
        => Assert.Throws<ArgumentOutOfRangeException>(() => VlanTag.Create(new VlanId(1), priority: 8));
}
