using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Fabric.Addressing;

/// <summary>
/// A 48-bit IEEE 802 MAC address held in the low 48 bits of a <see cref="ulong"/>, so that
/// forwarding tables key on an integer. The first octet on the wire is the most significant.
/// </summary>
[GenerateSerializer, Immutable, Alias("fabric.mac")]
public readonly record struct MacAddress : ISpanFormattable, IComparable<MacAddress>
{
    private const ulong Mask = 0xFFFF_FFFF_FFFFUL;

    [Id(0)] public readonly ulong Value;

    public MacAddress(ulong value)
    {
        if ((value & ~Mask) != 0)
        {
            ThrowOutOfRange(value);
        }

        Value = value;
    }

    public static MacAddress Broadcast { get; } = new(Mask);

    public static MacAddress Zero { get; } = default;

    /// <summary>I/G bit (IEEE 802-2014 §8.2): the least significant bit of the first octet.</summary>
    public bool IsMulticast => ((Value >> 40) & 0x01) != 0;

    public bool IsBroadcast => Value == Mask;

    /// <summary>U/L bit: the second least significant bit of the first octet.</summary>
    public bool IsLocallyAdministered => ((Value >> 40) & 0x02) != 0;

    /// <summary>A unicast address that is not all zeros: the only kind that may be learned as a source.</summary>
    public bool IsValidUnicast => !IsMulticast && Value != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static MacAddress Read(ReadOnlySpan<byte> source)
    {
        // 2 + 4 bytes big-endian: no allocation, no loop.
        ulong hi = BinaryPrimitives.ReadUInt16BigEndian(source);
        ulong lo = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(2, 4));
        return FromMasked(hi << 32 | lo);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(Value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(2, 4), (uint)Value);
    }

    // Callers guarantee 48 bits; skips the range check on the per-frame path.
    private static MacAddress FromMasked(ulong value) => System.Runtime.CompilerServices.Unsafe.As<ulong, MacAddress>(ref value);

    public static bool TryParse([NotNullWhen(true)] string? text, out MacAddress mac)
        => TryParse(text.AsSpan(), out mac) && text is not null;

    /// <summary>Accepts <c>aa:bb:cc:dd:ee:ff</c> or <c>aa-bb-cc-dd-ee-ff</c>, either case.</summary>
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

    public override string ToString() => string.Create(17, Value, static (span, value) => Format(value, span));

    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

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

    public int CompareTo(MacAddress other) => Value.CompareTo(other.Value);

    private static void ThrowOutOfRange(ulong value)
        => throw new ArgumentOutOfRangeException(nameof(value), value, "A MAC address has 48 bits.");
}
