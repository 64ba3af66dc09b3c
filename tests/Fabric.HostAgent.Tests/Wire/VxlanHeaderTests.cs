using Fabric.Addressing;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Wire.TestFrames;

namespace Fabric.HostAgent.Tests.Wire;

[Trait("Category", "Unit")]
public sealed class VxlanHeaderTests
{
    [Fact]
    public void A_golden_header_yields_its_vni()
    {
        Assert.True(VxlanHeader.TryRead(Hex("08000000 00138900"), out var vni, out var reason));
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(new Vni(0x1389), vni);
    }

    [Fact]
    public void Writing_sets_only_the_i_flag_and_zeroes_every_reserved_field()
    {
        byte[] header = Hex("ffffffff ffffffff");
        Assert.Equal(8, VxlanHeader.Write(header, new Vni(16_777_215)));
        Assert.Equal(Hex("08000000 ffffff00"), header);
    }

    [Theory]
    [InlineData("ff ffffff 00138 9ff")]
    [InlineData("0c 000000 001389 01")]
    [InlineData("08 abcdef 001389 00")]
    public void Reserved_bits_are_ignored_on_receipt(string hex)
    {
        Assert.True(VxlanHeader.TryRead(Hex(hex), out var vni, out _));
        Assert.Equal(0x1389u, vni.Value);
    }

    [Theory]
    [InlineData("00000000 00138900")]
    [InlineData("f7ffffff 00138900")]
    public void Flags_without_the_i_bit_are_dropped_as_bad_vxlan_flags(string hex)
    {
        Assert.False(VxlanHeader.TryRead(Hex(hex), out _, out var reason));
        Assert.Equal(DropReason.BadVxlanFlags, reason);
    }

    [Fact]
    public void Vni_0_names_no_segment_and_is_dropped()
    {
        Assert.False(VxlanHeader.TryRead(Hex("08000000 000000ff"), out _, out var reason));
        Assert.Equal(DropReason.BadVni, reason);
    }

    [Fact]
    public void Truncated_vxlan_header_is_dropped_as_truncated()
    {
        byte[] header = Hex("08000000 00138900");
        for (int length = 0; length < 8; length++)
        {
            Assert.False(VxlanHeader.TryRead(header.AsSpan(0, length), out _, out var reason));
            Assert.Equal(DropReason.Truncated, reason);
        }
    }
}
