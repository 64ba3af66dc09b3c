using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Fabric.HostAgent.Wire;

/// <summary>
/// A hash of an inner frame's flow, from which the outer UDP source port is taken so that the
/// underlay's ECMP and the receiver's RSS spread flows while keeping each flow in order
/// (RFC 7348 §5, "Source Port"). Inputs: both MACs, the VLAN id if tagged, the EtherType and, for
/// IPv4, the addresses, the protocol and (TCP, UDP, SCTP, unfragmented) the two ports. Fragments
/// hash without ports, so every fragment of a datagram takes the same path.
/// The function is fixed, not randomised per process, so a flow keeps its port across restarts.
/// </summary>
[SkipLocalsInit]
internal static class FlowHash
{
    /// <summary>RFC 7348 §5: "it is recommended that the UDP source port number be in the dynamic/private port range 49152-65535".</summary>
    public const ushort MinSourcePort = 49152;
    public const ushort MaxSourcePort = 65535;

    private const ulong Seed = 0x5646_584C_414E_2D46; // "VFXLAN-F"
    private const ulong Multiplier = 0x9E37_79B9_7F4A_7C15;

    /// <summary>Hashes the flow of <paramref name="frame"/>; a frame shorter than 14 bytes hashes as its bytes allow.</summary>
    public static ulong Compute(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < EthernetFrame.HeaderLength)
        {
            return Finish(Seed ^ (uint)frame.Length);
        }

        ulong h = Seed;
        h = Mix(h, BinaryPrimitives.ReadUInt64BigEndian(frame) >> 16); // destination MAC
        h = Mix(h, BinaryPrimitives.ReadUInt64BigEndian(frame.Slice(4)) & 0xFFFF_FFFF_FFFF); // source MAC

        int offset = EthernetFrame.EtherTypeOffset;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(offset));
        if (type == EtherType.Vlan && frame.Length >= EthernetFrame.TaggedHeaderLength)
        {
            h = Mix(h, BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(14)) & 0x0FFFu);
            offset += VlanTagging.TagLength;
            type = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(offset));
        }

        h = Mix(h, type);
        ReadOnlySpan<byte> ip = frame.Slice(offset + 2);
        if (type == EtherType.Ipv4 && ip.Length >= Ipv4Packet.MinHeaderLength && ip[0] >> 4 == 4)
        {
            h = Mix(h, BinaryPrimitives.ReadUInt64BigEndian(ip.Slice(12))); // source, destination
            byte protocol = ip[9];
            h = Mix(h, protocol);

            int headerLength = (ip[0] & 0x0F) * 4;
            bool fragment = (BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(6)) & 0x3FFF) != 0;
            if (!fragment
                && protocol is IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Sctp
                && headerLength >= Ipv4Packet.MinHeaderLength
                && ip.Length >= headerLength + 4)
            {
                h = Mix(h, BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(headerLength))); // both ports
            }
        }

        return Finish(h);
    }

    /// <summary>The outer UDP source port for <paramref name="innerFrame"/>: 49152..65535.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SourcePort(ReadOnlySpan<byte> innerFrame)
        => (ushort)(MinSourcePort | (uint)(Compute(innerFrame) & 0x3FFF)); // 49152 = 0xC000; 16384 ports

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong h, ulong value) => BitOperations.RotateLeft((h ^ value) * Multiplier, 29);

    // MurmurHash3 fmix64: every input bit reaches the low bits the port is taken from.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Finish(ulong h)
    {
        h ^= h >> 33;
        h *= 0xFF51_AFD7_ED55_8CCD;
        h ^= h >> 33;
        h *= 0xC4CE_B9FE_1A85_EC53;
        h ^= h >> 33;
        return h;
    }
}
