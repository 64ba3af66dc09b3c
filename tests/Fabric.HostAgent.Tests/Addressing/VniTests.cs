using Fabric.Addressing;

namespace Fabric.HostAgent.Tests.Addressing;

[Trait("Category", "Unit")]
public sealed class VniTests
{
    [Theory]
    [InlineData(1u)]
    [InlineData(5001u)]
    [InlineData(16_777_215u)]
    public void Vnis_from_1_to_2_pow_24_minus_1_are_valid(uint value)
    {
        Assert.True(Vni.TryCreate(value, out var vni));
        Assert.Equal(value, vni.Value);
        Assert.Equal(value, new Vni(value).Value);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(16_777_216L)]
    [InlineData(-1L)]
    [InlineData(uint.MaxValue)]
    public void Vnis_outside_24_bits_or_zero_are_rejected(long value)
    {
        Assert.False(Vni.TryCreate(value, out _));
        if (value is >= 0 and <= uint.MaxValue)
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => new Vni((uint)value));
        }
    }

    [Theory]
    [InlineData("1", 1u)]
    [InlineData("16777215", 16_777_215u)]
    [InlineData("005001", 5001u)]
    public void Vnis_parse_from_decimal_text(string text, uint expected)
    {
        Assert.True(Vni.TryParse(text, out var vni));
        Assert.Equal(expected, vni.Value);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("16777216")]
    [InlineData("-1")]
    [InlineData(" 5")]
    [InlineData("0x10")]
    [InlineData("99999999999999999999")]
    public void Malformed_or_out_of_range_vni_text_is_rejected(string? text) => Assert.False(Vni.TryParse(text, out _));

    [Fact]
    public void Vnis_format_as_decimal()
    {
        Assert.Equal("16777215", new Vni(16_777_215).ToString());
        Span<char> chars = stackalloc char[8];
        Assert.True(new Vni(42).TryFormat(chars, out int written, default, null));
        Assert.Equal("42", chars[..written].ToString());
    }
}
