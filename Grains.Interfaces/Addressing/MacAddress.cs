using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Fabric.Addressing;

/// <summary>
/// A 48-bit IEEE 802 MAC address (IEEE 802-2014 §8.2) held in the low 48 bits of a <see cref="ulong"/>,
/// so that forwarding tables key on an integer. The first octet on the wire is the most significant
/// byte of the 48, so numeric order is the order of the octets.
/// </summary>
/// <remarks>
/// <c>default(MacAddress)</c> is <see cref="Zero"/>. A value that crossed the wire is not range-checked
/// by its constructor; the grains check what they accept (a learned or static MAC must be
/// <see cref="IsValidUnicast"/>) and refuse the rest with <c>FabricValidationException</c>.
/// </remarks>
[GenerateSerializer, Immutable, Alias("fabric.mac")]
public readonly record struct MacAddress : ISpanFormattable, IComparable<MacAddress>
{
    private const ulong Mask = 0xFFFF_FFFF_FFFFUL;

    /// <summary>The address in the low 48 bits, first octet in bits 47..40; the top 16 bits are zero.</summary>
    [Id(0)] public readonly ulong Value;

    /// <summary>Creates an address from its 48-bit value (first octet most significant).</summary>
    /// <param name="value">0 .. 0xFFFF_FFFF_FFFF.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> has a bit set above bit 47.</exception>
    public MacAddress(ulong value)
    {
        if ((value & ~Mask) != 0)
        {
            ThrowOutOfRange(value);
        }

        Value = value;
    }

    /// <summary><c>ff:ff:ff:ff:ff:ff</c>, the broadcast address.</summary>
    public static MacAddress Broadcast { get; } = new(Mask);

    /// <summary><c>00:00:00:00:00:00</c>: never a valid source; also <c>default(MacAddress)</c>.</summary>
    public static MacAddress Zero { get; } = default;

    /// <summary>I/G bit (IEEE 802-2014 §8.2): the least significant bit of the first octet.</summary>
    public bool IsMulticast => ((Value >> 40) & 0x01) != 0;

    /// <summary>True for <see cref="Broadcast"/> (which is also <see cref="IsMulticast"/>).</summary>
    public bool IsBroadcast => Value == Mask;

    /// <summary>U/L bit: the second least significant bit of the first octet.</summary>
    public bool IsLocallyAdministered => ((Value >> 40) & 0x02) != 0;

    /// <summary>A unicast address that is not all zeros: the only kind that may be learned as a source.</summary>
    public bool IsValidUnicast => !IsMulticast && Value != 0;

    /// <summary>Reads six octets in network order from the start of <paramref name="source"/>. Allocates nothing.</summary>
    /// <param name="source">At least 6 bytes; bytes after the sixth are ignored.</param>
    /// <returns>The address; every 48-bit value is accepted.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="source"/> is shorter than 6 bytes.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static MacAddress Read(ReadOnlySpan<byte> source)
    {
        // 2 + 4 bytes big-endian: no allocation, no loop.
        ulong hi = BinaryPrimitives.ReadUInt16BigEndian(source);
        ulong lo = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(2, 4));
        return FromMasked(hi << 32 | lo);
    }

    /// <summary>Writes the six octets in network order to the start of <paramref name="destination"/>.</summary>
    /// <param name="destination">At least 6 bytes; bytes after the sixth are left as they are.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="destination"/> is shorter than 6 bytes.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(Value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(2, 4), (uint)Value);
    }

    // Callers guarantee 48 bits; skips the range check on the per-frame path.
    private static MacAddress FromMasked(ulong value) => System.Runtime.CompilerServices.Unsafe.As<ulong, MacAddress>(ref value);

    /// <summary>Parses text as <see cref="TryParse(ReadOnlySpan{char}, out MacAddress)"/> does; false for null.</summary>
    /// <param name="text">Six hex octets separated by ':' or '-', e.g. <c>02:00:00:00:00:01</c>.</param>
    /// <param name="mac">The address, or <see cref="Zero"/> when false is returned.</param>
    /// <returns>True if <paramref name="text"/> is an address.</returns>
    public static bool TryParse([NotNullWhen(true)] string? text, out MacAddress mac)
        => TryParse(text.AsSpan(), out mac) && text is not null;

    /// <summary>
    /// Accepts exactly 17 characters, <c>aa:bb:cc:dd:ee:ff</c> or <c>aa-bb-cc-dd-ee-ff</c>, hex digits
    /// of either case, one separator throughout. No whitespace, no dotted (Cisco) or bare forms.
    /// </summary>
    /// <param name="text">The text to parse.</param>
    /// <param name="mac">The address, or <see cref="Zero"/> when false is returned.</param>
    /// <returns>True if <paramref name="text"/> is an address; never throws.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out MacAddress mac)
    {
        mac = default;
        if (text.Length != 17)
        {
            return false;
        }

        char separator = text[2];
        if (separator is not (':' or '-'))
        {
            return false;
        }

        ulong value = 0;
        for (int i = 0; i < 6; i++)
        {
            int at = i * 3;
            if (i > 0 && text[at - 1] != separator)
            {
                return false;
            }

            int high = HexValue(text[at]);
            int low = HexValue(text[at + 1]);
            if (high < 0 || low < 0)
            {
                return false;
            }

            value = value << 8 | (uint)(high << 4 | low);
        }

        mac = FromMasked(value);
        return true;
    }

    /// <summary>Parses an address in the form <see cref="TryParse(ReadOnlySpan{char}, out MacAddress)"/> accepts.</summary>
    /// <param name="text">Six hex octets separated by ':' or '-'.</param>
    /// <returns>The address.</returns>
    /// <exception cref="FormatException"><paramref name="text"/> is null or not in that form.</exception>
    public static MacAddress Parse(string text)
        => TryParse(text, out var mac)
            ? mac
            : throw new FormatException($"'{text}' is not a MAC address; expected six hex octets such as aa:bb:cc:dd:ee:ff.");

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    /// <summary>The canonical text: 17 characters, lower-case hex, colon-separated (<c>02:00:00:00:00:01</c>).</summary>
    /// <returns>The address as text.</returns>
    public override string ToString() => string.Create(17, Value, static (span, value) => Format(value, span));

    /// <summary>Same as <see cref="ToString()"/>: there is one format.</summary>
    /// <param name="format">Ignored.</param>
    /// <param name="formatProvider">Ignored.</param>
    /// <returns>The address as text.</returns>
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <summary>Writes the <see cref="ToString()"/> form without allocating.</summary>
    /// <param name="destination">Needs at least 17 characters.</param>
    /// <param name="charsWritten">17, or 0 when false is returned.</param>
    /// <param name="format">Ignored.</param>
    /// <param name="provider">Ignored.</param>
    /// <returns>False if <paramref name="destination"/> is too short.</returns>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        if (destination.Length < 17)
        {
            charsWritten = 0;
            return false;
        }

        Format(Value, destination);
        charsWritten = 17;
        return true;
    }

    private static void Format(ulong value, Span<char> span)
    {
        const string Hex = "0123456789abcdef";
        for (int i = 0; i < 6; i++)
        {
            int octet = (int)(value >> (40 - i * 8)) & 0xFF;
            span[i * 3] = Hex[octet >> 4];
            span[i * 3 + 1] = Hex[octet & 0xF];
            if (i < 5)
            {
                span[i * 3 + 2] = ':';
            }
        }
    }

    /// <summary>Orders by <see cref="Value"/>, which is the order of the octets on the wire.</summary>
    /// <param name="other">The address to compare with.</param>
    /// <returns>Negative, zero or positive as this address sorts before, with or after <paramref name="other"/>.</returns>
    public int CompareTo(MacAddress other) => Value.CompareTo(other.Value);

    private static void ThrowOutOfRange(ulong value)
        => throw new ArgumentOutOfRangeException(nameof(value), value, "A MAC address has 48 bits.");
}
