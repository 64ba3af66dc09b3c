using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.Grains;
using Fabric.HostAgent.Ports;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Forwarding;

/// <summary>Remote port mirroring: the copies a session sends to its collector (docs/architecture.md, "Operating the fabric").</summary>
internal sealed partial class DataPlane
{
    /// <summary>GRE (RFC 2784) with a sequence number (RFC 2890): flags (S), protocol, sequence.</summary>
    private const int GreHeaderLength = 8;

    /// <summary>ERSPAN type II's header after GRE.</summary>
    private const int ErspanHeaderLength = 8;

    private const ushort EtherTypeErspanTypeII = 0x88BE;
    private const byte IpProtocolGre = 47;

    /// <summary>
    /// Sends a copy of <paramref name="frame"/> to <paramref name="mirror"/>'s collector, cut to the
    /// session's snap length (default: what fits the switch's MTU, so the copy crosses the underlay
    /// whole), in <see cref="ForwardingScratch.Mirror"/>: VXLAN (RFC 7348) in the session's VNI, or
    /// ERSPAN type II (outer IPv4 protocol 47, GRE with a sequence number and protocol 0x88BE, the
    /// 8-byte header: version 1, VLAN 0, COS 0, En 0, T set when cut, the session id, index 0).
    /// No allocation; the send joins the receive thread's batch.
    /// </summary>
    internal void SendMirrorCopy(Mirroring.RemoteMirror mirror, ReadOnlySpan<byte> frame, ForwardingScratch scratch)
    {
        var session = mirror.Session;
        int snap = Math.Min(frame.Length, Math.Min(session.SnapLength ?? Snapshot.MaxInnerFrameLength, Mirroring.CaptureRing.SnapLength));
        var buffer = scratch.Mirror.AsSpan();
        var output = scratch.Output ?? _output;
        if (session.Encapsulation == MirrorEncapsulation.Vxlan)
        {
            frame.Slice(0, snap).CopyTo(buffer.Slice(FrameBatch.Headroom));
            var destination = buffer.Slice(FrameBatch.Headroom - VxlanEncapsulator.OverheadLength);
            if (!_encapsulator.TryEncapsulate(buffer.Slice(FrameBatch.Headroom, snap), new Vni(session.Vni!.Value), MacAddress.Zero, mirror.Collector.Address, scratch.NextIdentification++, destination, out int written, out _))
            {
                mirror.Count(false);
                return;
            }

            mirror.Count(output.SendToVtep(mirror.Collector, destination.Slice(OuterEthernet, written - OuterEthernet)));
            return;
        }

        const int headers = Ipv4Packet.MinHeaderLength + GreHeaderLength + ErspanHeaderLength;
        var packet = buffer.Slice(0, headers + snap);
        frame.Slice(0, snap).CopyTo(packet.Slice(headers));
        Ipv4Packet.WriteHeader(packet, VtepAddress, mirror.Collector.Address, IpProtocolGre, (ushort)packet.Length, scratch.NextIdentification++, 64, dontFragment: true);
        var gre = packet.Slice(Ipv4Packet.MinHeaderLength);
        BinaryPrimitives.WriteUInt16BigEndian(gre, 0x1000); // S: a sequence number follows (RFC 2890 §2)
        BinaryPrimitives.WriteUInt16BigEndian(gre.Slice(2), EtherTypeErspanTypeII);
        BinaryPrimitives.WriteUInt32BigEndian(gre.Slice(4), mirror.NextSequence());
        var erspan = gre.Slice(GreHeaderLength);
        BinaryPrimitives.WriteUInt16BigEndian(erspan, 1 << 12); // version 1 (type II), VLAN 0
        BinaryPrimitives.WriteUInt16BigEndian(erspan.Slice(2), (ushort)((snap < frame.Length ? 1 << 10 : 0) | (session.SessionId!.Value & 0x3FF)));
        BinaryPrimitives.WriteUInt32BigEndian(erspan.Slice(4), 0); // reserved, index
        mirror.Count(output.SendToVtep(mirror.Collector, packet));
    }
}
