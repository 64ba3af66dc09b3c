namespace Fabric.Addressing;

/// <summary>
/// An IEEE 802.1Q VLAN identifier. 0 (priority tag only) and 4095 (reserved) are not VLANs, so a
/// valid id is 1..4094 (IEEE 802.1Q-2018 §9.6, Table 9-2).
/// </summary>
[GenerateSerializer, Immutable, Alias("fabric.vlan")]
public readonly record struct VlanId : IComparable<VlanId>
{
    public const ushort MinValue = 1;
    public const ushort MaxValue = 4094;

    [Id(0)] public readonly ushort Value;

    public VlanId(int value)
    {
        if (!IsValid(value))
        {
            ThrowOutOfRange(value);
        }

        Value = (ushort)value;
    }

    public static bool IsValid(long value) => value is >= MinValue and <= MaxValue;

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

    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public int CompareTo(VlanId other) => Value.CompareTo(other.Value);

    private static void ThrowOutOfRange(int value)
        => throw new ArgumentOutOfRangeException(nameof(value), value, $"A VLAN id is {MinValue}..{MaxValue} (IEEE 802.1Q).");
}
