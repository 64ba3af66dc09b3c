namespace Fabric.Addressing;

/// <summary>
/// An IEEE 802.1Q VLAN identifier (the 12-bit VID of a C-tag). 0 (priority tag only) and 4095
/// (reserved) are not VLANs, so a valid id is 1..4094 (IEEE 802.1Q-2018 §9.6, Table 9-2).
/// </summary>
/// <remarks>
/// <c>default(VlanId)</c> has <see cref="Value"/> 0 and is not a valid id; neither is a value that
/// crossed the wire without its constructor. The switch grain checks every VLAN id it is given and
/// refuses a bad one with <c>FabricValidationException</c> naming the field.
/// </remarks>
[GenerateSerializer, Immutable, Alias("fabric.vlan")]
public readonly record struct VlanId : IComparable<VlanId>
{
    /// <summary>The lowest valid id, 1 (0 means "priority tag only", IEEE 802.1Q-2018 Table 9-2).</summary>
    public const ushort MinValue = 1;

    /// <summary>The highest valid id, 4094 (4095 is reserved, IEEE 802.1Q-2018 Table 9-2).</summary>
    public const ushort MaxValue = 4094;

    /// <summary>The VID, <see cref="MinValue"/>..<see cref="MaxValue"/> for a valid id.</summary>
    [Id(0)] public readonly ushort Value;

    /// <summary>Creates a VLAN id.</summary>
    /// <param name="value"><see cref="MinValue"/>..<see cref="MaxValue"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> is outside 1..4094.</exception>
    public VlanId(int value)
    {
        if (!IsValid(value))
        {
            ThrowOutOfRange(value);
        }

        Value = (ushort)value;
    }

    /// <summary>Whether <paramref name="value"/> is a VLAN id, 1..4094. Never throws.</summary>
    /// <param name="value">Any number, so that unchecked input (JSON, the wire) can be tested before narrowing.</param>
    /// <returns>True for 1..4094.</returns>
    public static bool IsValid(long value) => value is >= MinValue and <= MaxValue;

    /// <summary>Creates a VLAN id if <paramref name="value"/> is one. Never throws.</summary>
    /// <param name="value">Any number.</param>
    /// <param name="vlan">The id, or <c>default</c> (not valid) when false is returned.</param>
    /// <returns>True for 1..4094.</returns>
    public static bool TryCreate(long value, out VlanId vlan)
    {
        if (IsValid(value))
        {
            vlan = new VlanId((int)value);
            return true;
        }

        vlan = default;
        return false;
    }

    /// <summary>The id in decimal, invariant culture (<c>100</c>).</summary>
    /// <returns>The id as text.</returns>
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Orders by <see cref="Value"/>.</summary>
    /// <param name="other">The id to compare with.</param>
    /// <returns>Negative, zero or positive as this id is lower than, equal to or higher than <paramref name="other"/>.</returns>
    public int CompareTo(VlanId other) => Value.CompareTo(other.Value);

    private static void ThrowOutOfRange(int value)
        => throw new ArgumentOutOfRangeException(nameof(value), value, $"A VLAN id is {MinValue}..{MaxValue} (IEEE 802.1Q).");
}
