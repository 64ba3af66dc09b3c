using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fabric.HostAgent.Wire;

/// <summary>
/// Pushes and pops one IEEE 802.1Q tag (4 bytes between the source MAC and the EtherType) for trunk
/// ports. <c>frame</c> and <c>destination</c> may overlap in any way, so the same buffer serves for
/// tagging in place (destination = buffer, frame = buffer[..length]) or into headroom
/// (destination starts 4 bytes before the frame).
/// </summary>
[SkipLocalsInit]
internal static class VlanTagging
{
    public const int TagLength = 4;
    private const int MacsLength = 12;

    /// <summary>Inserts <paramref name="tag"/>; refuses to stack a second tag on a tagged frame.</summary>
    public static bool TryPush(ReadOnlySpan<byte> frame, Span<byte> destination, VlanTag tag, out int bytesWritten, out DropReason reason)
    {
        bytesWritten = 0;
        if (frame.Length < EthernetFrame.HeaderLength)
        {
            reason = DropReason.Truncated;
            return false;
        }

        if (EthernetFrame.IsTpid(BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(MacsLength))))
        {
            reason = DropReason.StackedVlanTags;
            return false;
        }

        if (tag.Vid == VlanTag.ReservedVid)
        {
            reason = DropReason.ReservedVlanId;
            return false;
        }

        int length = frame.Length + TagLength;
        if (destination.Length < length)
        {
            reason = DropReason.DestinationTooSmall;
            return false;
        }

        // Two overlapping moves: order them so that neither overwrites the source of the other.
        ReadOnlySpan<byte> macs = frame.Slice(0, MacsLength);
        ReadOnlySpan<byte> rest = frame.Slice(MacsLength);
        if (DestinationIsAfter(destination, frame))
        {
            rest.CopyTo(destination.Slice(MacsLength + TagLength));
            macs.CopyTo(destination);
        }
        else
        {
            macs.CopyTo(destination);
            rest.CopyTo(destination.Slice(MacsLength + TagLength));
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(MacsLength), EtherType.Vlan);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(MacsLength + 2), tag.Tci);
        bytesWritten = length;
        reason = DropReason.None;
        return true;
    }

    /// <summary>Tags the frame held in <c>buffer[..frameLength]</c> in place; the buffer needs 4 spare bytes.</summary>
    public static bool TryPushInPlace(Span<byte> buffer, int frameLength, VlanTag tag, out int newLength, out DropReason reason)
        => TryPush(buffer.Slice(0, Math.Clamp(frameLength, 0, buffer.Length)), buffer, tag, out newLength, out reason);

    /// <summary>Removes the 802.1Q tag and returns it; refuses untagged and stacked frames.</summary>
    public static bool TryPop(ReadOnlySpan<byte> frame, Span<byte> destination, out VlanTag tag, out int bytesWritten, out DropReason reason)
    {
        tag = default;
        bytesWritten = 0;
        if (frame.Length < EthernetFrame.HeaderLength)
        {
            reason = DropReason.Truncated;
            return false;
        }

        ushort tpid = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(MacsLength));
        if (tpid != EtherType.Vlan)
        {
            reason = EthernetFrame.IsTpid(tpid) ? DropReason.StackedVlanTags : DropReason.NotTagged;
            return false;
        }

        if (frame.Length < EthernetFrame.TaggedHeaderLength)
        {
            reason = DropReason.Truncated;
            return false;
        }

        if (EthernetFrame.IsTpid(BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(MacsLength + TagLength))))
        {
            reason = DropReason.StackedVlanTags;
            return false;
        }

        int length = frame.Length - TagLength;
        if (destination.Length < length)
        {
            reason = DropReason.DestinationTooSmall;
            return false;
        }

        tag = new VlanTag(BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(MacsLength + 2)));
        ReadOnlySpan<byte> macs = frame.Slice(0, MacsLength);
        ReadOnlySpan<byte> rest = frame.Slice(MacsLength + TagLength);
        if (DestinationIsAfter(destination, frame))
        {
            rest.CopyTo(destination.Slice(MacsLength));
            macs.CopyTo(destination);
        }
        else
        {
            macs.CopyTo(destination);
            rest.CopyTo(destination.Slice(MacsLength));
        }

        bytesWritten = length;
        reason = DropReason.None;
        return true;
    }

    /// <summary>Untags the frame held in <c>buffer[..frameLength]</c> in place.</summary>
    public static bool TryPopInPlace(Span<byte> buffer, int frameLength, out VlanTag tag, out int newLength, out DropReason reason)
        => TryPop(buffer.Slice(0, Math.Clamp(frameLength, 0, buffer.Length)), buffer, out tag, out newLength, out reason);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool DestinationIsAfter(Span<byte> destination, ReadOnlySpan<byte> frame)
        => Unsafe.IsAddressGreaterThan(
            ref MemoryMarshal.GetReference(destination),
            ref MemoryMarshal.GetReference(frame));
}
