using System.Diagnostics.CodeAnalysis;

namespace Fabric.Addressing;

/// <summary>
/// A VXLAN network identifier: 24 bits (RFC 7348 §5). 0 is reserved here for "no segment", so a
/// valid VNI is 1..16777215.
/// </summary>
[GenerateSerializer, Immutable, Alias("fabric.vni")]
public readonly record struct Vni : IComparable<Vni>, ISpanFormattable
{
    public const uint MinValue = 1;
    public const uint MaxValue = 0xFF_FFFF;

    [Id(0)] public readonly uint Value;

    public Vni(uint value)
    {
        if (!IsValid(value))
        {
            ThrowOutOfRange(value);
        }

        Value = value;
    }

    public static bool IsValid(long value) => value is >= MinValue and <= MaxValue;

    public static bool TryCreate(long value, out Vni vni)
    {
        if (IsValid(value))
        {
            vni = new Vni((uint)value);
            return true;
        }

        vni = default;
        return false;
    }

    public static bool TryParse([NotNullWhen(true)] string? text, out Vni vni)
    {
        vni = default;
        return long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value)
            && TryCreate(value, out vni);
    }

    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public string ToString(string? format, IFormatProvider? formatProvider) => Value.ToString(format, formatProvider);

    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
        => Value.TryFormat(destination, out charsWritten, format, provider);

    public int CompareTo(Vni other) => Value.CompareTo(other.Value);

    private static void ThrowOutOfRange(uint value)
        => throw new ArgumentOutOfRangeException(nameof(value), value, $"A VNI is {MinValue}..{MaxValue} (24 bits, RFC 7348 §5).");
}
