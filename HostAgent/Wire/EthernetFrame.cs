using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Fabric.Addressing;

namespace Fabric.HostAgent.Wire;

/// <summary>
/// A view over an Ethernet II frame (IEEE 802.3-2018 §3.1.1, DIX framing), with at most one IEEE
/// 802.1Q tag. The FCS is not present: NICs and capture hand frames without it.
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  Destination MAC (octets 0-3)                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Destination MAC (octets 4-5)  |   Source MAC (octets 0-1)     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Source MAC (octets 2-5)                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         TPID = 0x8100         | PCP |D|         VID           |  optional 802.1Q tag
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           EtherType           |          Payload ...          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// A frame whose first TPID is 802.1ad (0x88A8) or 0x9100, or whose 802.1Q tag is followed by
/// another tag, is refused with <see cref="DropReason.StackedVlanTags"/>: a host port never sends
/// stacked tags, and a double-tagged frame is the classic VLAN hopping attack (the outer tag is
/// stripped on the native VLAN and the inner one then selects a VLAN the sender may not reach).
/// </summary>
[SkipLocalsInit]
internal readonly ref struct EthernetFrame
{
    public const int HeaderLength = 14;
    public const int TaggedHeaderLength = 18;
    public const int MacLength = 6;
    public const int EtherTypeOffset = 12;

    private readonly ReadOnlySpan<byte> _frame;

    private EthernetFrame(ReadOnlySpan<byte> frame, ushort etherType, VlanTag tag, bool isTagged)
    {
        _frame = frame;
        EtherType = etherType;
        Tag = tag;
        IsTagged = isTagged;
    }

    /// <summary>The whole frame this view was parsed from.</summary>
    public ReadOnlySpan<byte> Frame => _frame;

    public MacAddress Destination => MacAddress.Read(_frame);

    public MacAddress Source => MacAddress.Read(_frame.Slice(MacLength));

    /// <summary>The EtherType of the payload, after the tag if there is one.</summary>
    public ushort EtherType { get; }

    public bool IsTagged { get; }

    /// <summary>The 802.1Q tag; <c>default</c> when <see cref="IsTagged"/> is false.</summary>
    public VlanTag Tag { get; }

    /// <summary>14, or 18 with a tag.</summary>
    public int PayloadOffset => IsTagged ? TaggedHeaderLength : HeaderLength;

    public ReadOnlySpan<byte> Payload => _frame.Slice(PayloadOffset);

    public static bool TryParse(ReadOnlySpan<byte> frame, out EthernetFrame ethernet, out DropReason reason)
    {
        ethernet = default;
        if (frame.Length < HeaderLength)
        {
            reason = DropReason.Truncated;
            return false;
        }

        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(EtherTypeOffset));
        if (type == Wire.EtherType.Vlan)
        {
            if (frame.Length < TaggedHeaderLength)
            {
                reason = DropReason.Truncated;
                return false;
            }

            var tag = new VlanTag(BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(14)));
            ushort inner = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(16));
            if (IsTpid(inner))
            {
                reason = DropReason.StackedVlanTags;
                return false;
            }

            if (tag.Vid == VlanTag.ReservedVid)
            {
                reason = DropReason.ReservedVlanId;
                return false;
            }

            ethernet = new EthernetFrame(frame, inner, tag, isTagged: true);
            reason = DropReason.None;
            return true;
        }

        if (IsTpid(type))
        {
            reason = DropReason.StackedVlanTags;
            return false;
        }

        ethernet = new EthernetFrame(frame, type, default, isTagged: false);
        reason = DropReason.None;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsTpid(ushort type)
        => type is Wire.EtherType.Vlan or Wire.EtherType.ServiceVlan or Wire.EtherType.LegacyQinQ;

    /// <summary>Writes an untagged header; returns 14.</summary>
    public static int WriteHeader(Span<byte> destination, MacAddress destinationMac, MacAddress sourceMac, ushort etherType)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(EtherTypeOffset, 2), etherType);
        destinationMac.Write(destination);
        sourceMac.Write(destination.Slice(MacLength));
        return HeaderLength;
    }

    /// <summary>Writes an 802.1Q-tagged header; returns 18.</summary>
    public static int WriteTaggedHeader(Span<byte> destination, MacAddress destinationMac, MacAddress sourceMac, VlanTag tag, ushort etherType)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(16, 2), etherType);
        destinationMac.Write(destination);
        sourceMac.Write(destination.Slice(MacLength));
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(12), Wire.EtherType.Vlan);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(14), tag.Tci);
        return TaggedHeaderLength;
    }
}
