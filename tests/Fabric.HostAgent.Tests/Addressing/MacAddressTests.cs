using Fabric.Addressing;

namespace Fabric.HostAgent.Tests.Addressing;

[Trait("Category", "Unit")]
public sealed class MacAddressTests
{
    [Theory]
    [InlineData("aa:bb:cc:dd:ee:ff", 0xAABBCCDDEEFFUL)]
    [InlineData("AA-BB-CC-DD-EE-FF", 0xAABBCCDDEEFFUL)]
    [InlineData("00:00:00:00:00:00", 0UL)]
    [InlineData("02:00:5e:10:00:01", 0x02005E100001UL)]
    public void Mac_addresses_parse_from_colon_or_dash_notation_in_either_case(string text, ulong expected)
    {
        Assert.True(MacAddress.TryParse(text, out var mac));
        Assert.Equal(expected, mac.Value);
        Assert.Equal(expected, MacAddress.Parse(text).Value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("aa:bb:cc:dd:ee")]
    [InlineData("aa:bb:cc:dd:ee:ff:00")]
    [InlineData("aa:bb-cc:dd:ee:ff")]
    [InlineData("aa.bb.cc.dd.ee.ff")]
    [InlineData("gg:bb:cc:dd:ee:ff")]
    [InlineData("aabbccddeeff")]
    [InlineData(" aa:bb:cc:dd:ee:f")]
    public void Malformed_mac_text_is_rejected(string text)
    {
        Assert.False(MacAddress.TryParse(text, out _));
        Assert.Throws<FormatException>(() => MacAddress.Parse(text));
    }

    [Fact]
    public void Null_mac_text_is_rejected() => Assert.False(MacAddress.TryParse((string?)null, out _));

    [Fact]
    public void Mac_addresses_format_as_lower_case_colon_notation_and_round_trip()
    {
        var mac = new MacAddress(0x0A1B2C3D4E5FUL);
        Assert.Equal("0a:1b:2c:3d:4e:5f", mac.ToString());
        Assert.Equal(mac, MacAddress.Parse(mac.ToString()));

        Span<char> chars = stackalloc char[17];
        Assert.True(mac.TryFormat(chars, out int written, default, null));
        Assert.Equal(17, written);
        Assert.False(mac.TryFormat(stackalloc char[16], out _, default, null));
    }

    [Fact]
    public void Mac_addresses_read_and_write_six_octets_most_significant_first()
    {
        byte[] bytes = [0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x99];
        var mac = MacAddress.Read(bytes);
        Assert.Equal(0xDEADBEEF0001UL, mac.Value);

        var written = new byte[7];
        written[6] = 0x99;
        mac.Write(written);
        Assert.Equal(bytes, written);
    }

    [Fact]
    public void A_value_wider_than_48_bits_is_not_a_mac_address()
        => Assert.Throws<ArgumentOutOfRangeException>(() => new MacAddress(1UL << 48));

    [Fact]
    public void Group_broadcast_and_locally_administered_bits_are_read_from_the_first_octet()
    {
        Assert.True(MacAddress.Broadcast.IsBroadcast);
        Assert.True(MacAddress.Broadcast.IsMulticast);
        Assert.True(MacAddress.Parse("01:00:5e:00:00:01").IsMulticast);
        Assert.False(MacAddress.Parse("00:00:5e:00:00:01").IsMulticast);
        Assert.True(MacAddress.Parse("02:00:00:00:00:01").IsLocallyAdministered);
        Assert.True(MacAddress.Parse("02:00:00:00:00:01").IsValidUnicast);
        Assert.False(MacAddress.Zero.IsValidUnicast);
    }
}
