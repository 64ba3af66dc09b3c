using Fabric.Providers.AzureTables;

namespace Fabric.Providers.Tests.Shared;

[Trait("Category", "Storage")]
public sealed class TableKeyEncodingTests
{
    [Theory]
    [InlineData("switch/sw1")]
    [InlineData("a\\b#c?d")]
    [InlineData("\u0000\u001f\u007f\u009f")]
    [InlineData("Grüße 交换机 🚀")]
    [InlineData("\ud800 lone surrogate")]
    [InlineData("~0041")]
    public void Encoded_keys_contain_no_forbidden_characters(string value)
    {
        var key = TableKeyEncoding.Encode(value);

        Assert.True(TableKeyEncoding.IsValidKey(key), key);
        Assert.All(key, c => Assert.True(c < 128));
    }

    [Fact]
    public void Encoding_keeps_plain_ids_readable_and_is_injective()
    {
        Assert.Equal("fabric", TableKeyEncoding.Encode("fabric"));
        Assert.Equal("switch~002Fsw1", TableKeyEncoding.Encode("switch/sw1"));
        Assert.NotEqual(TableKeyEncoding.Encode("~002F"), TableKeyEncoding.Encode("/"));
        Assert.NotEqual(TableKeyEncoding.Encode("\ud800"), TableKeyEncoding.Encode("\udc00"));
    }

    [Fact]
    public void Long_values_are_shortened_to_the_limit_and_stay_distinct()
    {
        var a = TableKeyEncoding.Encode(new string('/', 10_000) + "a");
        var b = TableKeyEncoding.Encode(new string('/', 10_000) + "b");

        Assert.True(a.Length <= TableKeyEncoding.MaxKeyLength);
        Assert.True(TableKeyEncoding.IsValidKey(a));
        Assert.NotEqual(a, b);
        Assert.Contains("~~", a);
        Assert.DoesNotContain("~~", TableKeyEncoding.Encode(new string('/', 100)));
    }
}
