using System.Diagnostics.CodeAnalysis;

namespace Fabric.Addressing;

/// <summary>
/// A VXLAN network identifier: 24 bits (RFC 7348 §5). RFC 7348 allows 0, but Fabric reserves it
/// for "no segment", so a valid VNI is 1..16777215. A VNI names one segment in the whole fabric:
/// it keys the segment and MAC table grains, and at most one port group holds it.
/// </summary>
/// <remarks>
/// <c>default(Vni)</c> has <see cref="Value"/> 0 and is not a valid VNI; neither is a value that
/// crossed the wire without its constructor. The grains check every VNI they are given (and their
/// own key) and refuse a bad one with <c>FabricValidationException</c>, field <c>vni</c>.
/// </remarks>
[GenerateSerializer, Immutable, Alias("fabric.vni")]
public readonly record struct Vni : IComparable<Vni>, ISpanFormattable
{
    /// <summary>The lowest valid VNI, 1 (0 is reserved by Fabric for "no segment").</summary>
    public const uint MinValue = 1;

    /// <summary>The highest valid VNI, 16777215 (2^24 - 1, RFC 7348 §5).</summary>
    public const uint MaxValue = 0xFF_FFFF;

    /// <summary>The VNI, <see cref="MinValue"/>..<see cref="MaxValue"/> for a valid one; also the key of its segment and MAC table grains.</summary>
    [Id(0)] public readonly uint Value;

    /// <summary>Creates a VNI.</summary>
    /// <param name="value"><see cref="MinValue"/>..<see cref="MaxValue"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> is 0 or above 16777215.</exception>
    public Vni(uint value)
    {
        if (!IsValid(value))
        {
            ThrowOutOfRange(value);
        }

        Value = value;
    }

    /// <summary>Whether <paramref name="value"/> is a VNI, 1..16777215. Never throws.</summary>
    /// <param name="value">Any number, so that unchecked input (JSON, a grain key) can be tested before narrowing.</param>
    /// <returns>True for 1..16777215.</returns>
    public static bool IsValid(long value) => value is >= MinValue and <= MaxValue;

    /// <summary>Creates a VNI if <paramref name="value"/> is one. Never throws.</summary>
    /// <param name="value">Any number.</param>
    /// <param name="vni">The VNI, or <c>default</c> (not valid) when false is returned.</param>
    /// <returns>True for 1..16777215.</returns>
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

    /// <summary>Parses decimal digits only (no sign, whitespace, separators or hex), invariant culture. Never throws.</summary>
    /// <param name="text">E.g. <c>5001</c>.</param>
    /// <param name="vni">The VNI, or <c>default</c> (not valid) when false is returned.</param>
    /// <returns>True if <paramref name="text"/> is a VNI in 1..16777215; false for null.</returns>
    public static bool TryParse([NotNullWhen(true)] string? text, out Vni vni)
    {
        vni = default;
        return long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value)
            && TryCreate(value, out vni);
    }

    /// <summary>The VNI in decimal, invariant culture (<c>5001</c>).</summary>
    /// <returns>The VNI as text.</returns>
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Formats <see cref="Value"/> as a <see cref="uint"/> with the given format (e.g. <c>x6</c>).</summary>
    /// <param name="format">A numeric format string, or null for decimal.</param>
    /// <param name="formatProvider">Culture information, or null for the current culture.</param>
    /// <returns>The VNI as text.</returns>
    /// <exception cref="FormatException"><paramref name="format"/> is not a numeric format.</exception>
    public string ToString(string? format, IFormatProvider? formatProvider) => Value.ToString(format, formatProvider);

    /// <summary>Formats <see cref="Value"/> as a <see cref="uint"/> without allocating.</summary>
    /// <param name="destination">Where to write; 8 characters hold any valid VNI in decimal.</param>
    /// <param name="charsWritten">How many characters were written.</param>
    /// <param name="format">A numeric format, or empty for decimal.</param>
    /// <param name="provider">Culture information, or null for the current culture.</param>
    /// <returns>False if <paramref name="destination"/> is too short.</returns>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
        => Value.TryFormat(destination, out charsWritten, format, provider);

    /// <summary>Orders by <see cref="Value"/>.</summary>
    /// <param name="other">The VNI to compare with.</param>
    /// <returns>Negative, zero or positive as this VNI is lower than, equal to or higher than <paramref name="other"/>.</returns>
    public int CompareTo(Vni other) => Value.CompareTo(other.Value);

    private static void ThrowOutOfRange(uint value)
        => throw new ArgumentOutOfRangeException(nameof(value), value, $"A VNI is {MinValue}..{MaxValue} (24 bits, RFC 7348 §5).");
}
