using Fabric.Addressing;

namespace Fabric.HostAgent.Wire;

/// <summary>
/// The Tag Control Information of an IEEE 802.1Q tag (IEEE 802.1Q-2018 §9.6):
/// <code>
///  0                   1
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | PCP |D|         VID           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// PCP is the priority code point, D the drop eligible indicator (DEI), VID the VLAN id. VID 0 is a
/// priority tag (no VLAN); VID 4095 is reserved.
/// </summary>
internal readonly record struct VlanTag(ushort Tci)
{
    public const ushort ReservedVid = 0xFFF;

    public static VlanTag Create(VlanId vlan, byte priority = 0, bool dropEligible = false)
    {
        if (priority > 7)
        {
            ThrowPriorityOutOfRange(priority);
        }

        return new VlanTag((ushort)(priority << 13 | (dropEligible ? 1 << 12 : 0) | vlan.Value));
    }

    /// <summary>Priority code point, 0..7 (IEEE 802.1Q-2018 §6.9.3).</summary>
    public byte Priority => (byte)(Tci >> 13);

    /// <summary>Drop eligible indicator.</summary>
    public bool DropEligible => (Tci & 0x1000) != 0;

    /// <summary>The raw 12-bit VID, 0..4095.</summary>
    public ushort Vid => (ushort)(Tci & 0xFFF);

    /// <summary>True for a priority tag (VID 0): the frame belongs to the port's native VLAN.</summary>
    public bool IsPriorityTag => Vid == 0;

    public bool TryGetVlanId(out VlanId vlan) => VlanId.TryCreate(Vid, out vlan);

    private static void ThrowPriorityOutOfRange(byte priority)
        => throw new ArgumentOutOfRangeException(nameof(priority), priority, "An 802.1Q priority code point is 0..7.");
}
