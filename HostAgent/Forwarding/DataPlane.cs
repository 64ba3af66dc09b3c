using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.HostAgent.Ports;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Forwarding;

/// <summary>What the pipeline sends through; the agent wires it to its ports and VTEP socket.</summary>
public interface IDataPlaneOutput
{
    bool SendToPort(int port, ReadOnlySpan<byte> frame);

    /// <summary>Sends an outer IPv4 packet (header included) to a remote VTEP.</summary>
    bool SendToVtep(RemoteVtep vtep, ReadOnlySpan<byte> ipv4Packet);
}

/// <summary>Per receive thread: buffers the pipeline writes into, so it allocates nothing per frame.</summary>
public sealed class ForwardingScratch
{
    public byte[] Tagged { get; } = new byte[FrameBatch.SlotLength];

    /// <summary>An ARP reply the agent answers with on a VM's behalf (60 bytes, the Ethernet minimum).</summary>
    public byte[] ArpReply { get; } = new byte[EthernetFrame.HeaderLength + ArpPacket.Length + 18];

    public ushort NextIdentification;
}

/// <summary>
/// The per-frame pipeline (DESIGN.md "Data plane"). Reads only the current
/// <see cref="ForwardingSnapshot"/> and the lock-free <see cref="LocalMacTable"/>: no grain call, no
/// allocation, no log line, no lock shared with the control plane.
/// </summary>
public sealed class DataPlane
{
    private const int OuterEthernet = EthernetFrame.HeaderLength;

    private readonly IDataPlaneOutput _output;
    private readonly VxlanEncapsulator _encapsulator;
    private ForwardingSnapshot _snapshot;

    public DataPlane(ForwardingSnapshot initial, LocalMacTable macs, DataPlaneCounters counters, IDataPlaneOutput output, uint vtepAddress, ushort vxlanPort)
    {
        _snapshot = initial;
        Macs = macs;
        Counters = counters;
        _output = output;
        VtepAddress = vtepAddress;
        _encapsulator = new VxlanEncapsulator(MacAddress.Zero, vtepAddress, destinationPort: vxlanPort);
    }

    public LocalMacTable Macs { get; }

    public DataPlaneCounters Counters { get; }

    public uint VtepAddress { get; }

    public ForwardingSnapshot Snapshot => Volatile.Read(ref _snapshot);

    /// <summary>Control plane: replace the tables the data plane reads.</summary>
    public void Publish(ForwardingSnapshot snapshot) => Volatile.Write(ref _snapshot, snapshot);

    /// <summary>
    /// A frame captured on local port <paramref name="portIndex"/>, sitting in <paramref name="slot"/>
    /// at <see cref="FrameBatch.Headroom"/> with <paramref name="length"/> bytes.
    /// </summary>
    public void FromPort(int portIndex, Span<byte> slot, int length, ForwardingScratch scratch)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        var port = snapshot.Ports[portIndex];
        var portCounters = Counters.Ports[portIndex];
        portCounters.CountReceived();
        Counters.Total.CountReceived();

        int start = FrameBatch.Headroom;
        var frame = slot.Slice(start, length);
        if (!EthernetFrame.TryParse(frame, out var ethernet, out var reason))
        {
            // Stacked tags are a policy drop with a reason of their own (VLAN hopping), counted once.
            if (reason == DropReason.StackedVlanTags)
            {
                Drop(portCounters, null, DataPlaneDrop.StackedVlanTags);
            }
            else
            {
                portCounters.CountMalformed(reason);
                Counters.Total.CountMalformed(reason);
            }

            return;
        }

        uint vni;
        bool priorityTagged = ethernet.IsTagged && ethernet.Tag.IsPriorityTag;
        if (ethernet.IsTagged && !priorityTagged)
        {
            if (!port.Trunk)
            {
                Drop(portCounters, null, DataPlaneDrop.TaggedOnAccessPort);
                return;
            }

            if (!port.VniByVid.TryGetValue(ethernet.Tag.Vid, out vni))
            {
                Drop(portCounters, null, DataPlaneDrop.VlanNotAllowed);
                return;
            }
        }
        else
        {
            // Untagged, or priority-tagged (VID 0), which IEEE 802.1Q classifies like an untagged
            // frame: the tag carries only a priority.
            vni = port.Trunk ? port.NativeVni : port.AccessVni;
            if (vni == 0)
            {
                Drop(portCounters, null, port.Trunk ? DataPlaneDrop.VlanNotAllowed : DataPlaneDrop.NoSegment);
                return;
            }
        }

        if (ethernet.IsTagged)
        {
            // The overlay carries untagged frames (RFC 7348 §6.1): pop the tag in place; the frame
            // keeps its start and loses 4 bytes.
            if (!VlanTagging.TryPopInPlace(slot.Slice(start), length, out _, out int untagged, out reason))
            {
                portCounters.CountMalformed(reason);
                Counters.Total.CountMalformed(reason);
                return;
            }

            length = untagged;
            frame = slot.Slice(start, length);
        }

        if (!snapshot.Segments.TryGetValue(vni, out var segment))
        {
            Drop(portCounters, null, DataPlaneDrop.NoSegment);
            return;
        }

        segment.Counters.CountReceived();
        var source = MacAddress.Read(frame.Slice(EthernetFrame.MacLength));
        if (!source.IsValidUnicast)
        {
            Drop(portCounters, segment, DataPlaneDrop.InvalidSourceMac);
            return;
        }

        if (!Macs.Learn(vni, source.Value, portIndex, port.MacLimit, Environment.TickCount64))
        {
            Drop(portCounters, segment, DataPlaneDrop.MacLimitExceeded);
            return;
        }

        var destination = MacAddress.Read(frame);
        if (BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(2 * EthernetFrame.MacLength)) == EtherType.Arp
            && ArpPacket.TryRead(frame.Slice(EthernetFrame.HeaderLength), out var arp, out _)
            && arp.SenderHardwareAddress == source && arp.SenderProtocolAddress != 0)
        {
            // Snoop the binding (published to the MAC table by the control plane). Only when the ARP
            // sender is the frame's own source: a VM cannot bind an address to someone else's MAC.
            Macs.Snoop(vni, source.Value, arp.SenderProtocolAddress);
            if (destination.IsBroadcast && TrySuppressArp(in arp, portIndex, vni, snapshot, segment, scratch))
            {
                return;
            }
        }

        if (!destination.IsMulticast)
        {
            if (Macs.TryGet(vni, destination.Value, out var local) && Carries(snapshot.Ports[local.Port], vni))
            {
                int target = local.Port;
                if (target == portIndex)
                {
                    Drop(portCounters, segment, DataPlaneDrop.Hairpin);
                    return;
                }

                DeliverLocal(snapshot.Ports[target], vni, frame, segment, scratch);
                return;
            }

            if (segment.RemoteMacs.TryGetValue(destination.Value, out var vtep))
            {
                Encapsulate(slot, start, length, vni, vtep, segment, scratch);
                return;
            }
        }

        // Broadcast, multicast, unknown unicast: every other local port of the VNI, then head-end
        // replication to every other VTEP of the segment. Local copies go first because
        // encapsulating writes the outer headers over the headroom in front of the frame.
        Counters.Total.CountFlooded();
        segment.Counters.CountFlooded();
        foreach (int other in segment.LocalPorts)
        {
            if (other != portIndex)
            {
                DeliverLocal(snapshot.Ports[other], vni, frame, segment, scratch);
            }
        }

        foreach (var vtep in segment.FloodList)
        {
            Encapsulate(slot, start, length, vni, vtep, segment, scratch);
        }
    }

    /// <summary>A VXLAN datagram (UDP payload) from <paramref name="outerSource"/>, in <paramref name="slot"/> at the headroom.</summary>
    /// <summary>A datagram on the VTEP socket longer than a slot (beyond any jumbo frame): counted, dropped.</summary>
    public void OversizedFromVtep()
    {
        Counters.Vtep.CountReceived();
        Counters.Total.CountReceived();
        Drop(Counters.Vtep, null, DataPlaneDrop.TooLong);
    }

    public void FromVtep(uint outerSource, Span<byte> slot, int length, ForwardingScratch scratch)
    {
        var counters = Counters.Vtep;
        counters.CountReceived();
        Counters.Total.CountReceived();
        var datagram = slot.Slice(FrameBatch.Headroom, length);
        if (!VxlanDecapsulator.TryDecapsulate(datagram, out var vni, out var inner, out var reason))
        {
            counters.CountMalformed(reason);
            Counters.Total.CountMalformed(reason);
            return;
        }

        var snapshot = Volatile.Read(ref _snapshot);
        if (!snapshot.Segments.TryGetValue(vni.Value, out var segment))
        {
            Drop(counters, null, DataPlaneDrop.UnknownVni);
            return;
        }

        if (!segment.Vteps.Contains(outerSource))
        {
            Drop(counters, segment, DataPlaneDrop.NotAVtepOfSegment);
            return;
        }

        // RFC 7348 §6.1: a decapsulated frame with an inner VLAN tag is discarded; an 802.1ad or
        // stacked tag is one too. The decapsulator guarantees a whole Ethernet header.
        if (EthernetFrame.IsTpid(BinaryPrimitives.ReadUInt16BigEndian(inner.Slice(EthernetFrame.EtherTypeOffset))))
        {
            Drop(counters, segment, DataPlaneDrop.InnerVlanTagged);
            return;
        }

        segment.Counters.CountReceived();
        var destination = MacAddress.Read(inner);
        if (!destination.IsMulticast && Macs.TryGet(vni.Value, destination.Value, out var local) && Carries(snapshot.Ports[local.Port], vni.Value))
        {
            DeliverLocal(snapshot.Ports[local.Port], vni.Value, inner, segment, scratch);
            return;
        }

        // Flood to local ports only: the sender already replicated to every VTEP (split horizon).
        Counters.Total.CountFlooded();
        segment.Counters.CountFlooded();
        foreach (int port in segment.LocalPorts)
        {
            DeliverLocal(snapshot.Ports[port], vni.Value, inner, segment, scratch);
        }
    }

    /// <summary>
    /// ARP suppression (DESIGN.md; EVPN's proxy ARP): a broadcast request for an address the segment
    /// has a binding for is answered on the asking port with the bound MAC, and goes nowhere else.
    /// Probes (sender 0.0.0.0, handled before this) and gratuitous ARP (target = sender) are flooded
    /// as usual, so duplicate-address detection and announcements keep working.
    /// </summary>
    private bool TrySuppressArp(in ArpPacket request, int portIndex, uint vni, ForwardingSnapshot snapshot, SegmentForwarding segment, ForwardingScratch scratch)
    {
        if (request.Operation != ArpOperation.Request
            || request.TargetProtocolAddress == request.SenderProtocolAddress
            || !segment.ArpBindings.TryGetValue(request.TargetProtocolAddress, out ulong bound)
            || bound == request.SenderHardwareAddress.Value)
        {
            return false;
        }

        var owner = new MacAddress(bound);
        var reply = scratch.ArpReply.AsSpan();
        request.SenderHardwareAddress.Write(reply);
        owner.Write(reply.Slice(EthernetFrame.MacLength));
        BinaryPrimitives.WriteUInt16BigEndian(reply.Slice(2 * EthernetFrame.MacLength), EtherType.Arp);
        new ArpPacket(ArpOperation.Reply, owner, request.TargetProtocolAddress, request.SenderHardwareAddress, request.SenderProtocolAddress)
            .Write(reply.Slice(EthernetFrame.HeaderLength));
        reply.Slice(EthernetFrame.HeaderLength + ArpPacket.Length).Clear();

        Counters.Total.CountArpSuppressed();
        segment.Counters.CountArpSuppressed();
        DeliverLocal(snapshot.Ports[portIndex], vni, reply, segment, scratch);
        return true;
    }

    private void DeliverLocal(PortForwarding port, uint vni, ReadOnlySpan<byte> frame, SegmentForwarding segment, ForwardingScratch scratch)
    {
        ReadOnlySpan<byte> outgoing = frame;
        if (port.Trunk && port.VidByVni.TryGetValue(vni, out ushort vid))
        {
            if (!VlanTagging.TryPush(frame, scratch.Tagged, new VlanTag(vid), out int written, out var reason))
            {
                Counters.Ports[port.Index].CountMalformed(reason);
                return;
            }

            outgoing = scratch.Tagged.AsSpan(0, written);
        }

        if (_output.SendToPort(port.Index, outgoing))
        {
            Counters.Ports[port.Index].CountDelivered();
            segment.Counters.CountDelivered();
            Counters.Total.CountDelivered();
        }
        else
        {
            Drop(Counters.Ports[port.Index], segment, DataPlaneDrop.SendFailed);
        }
    }

    private void Encapsulate(Span<byte> slot, int start, int length, uint vni, RemoteVtep vtep, SegmentForwarding segment, ForwardingScratch scratch)
    {
        // The frame already sits right after the headroom, so the encapsulator writes only the headers.
        var destination = slot.Slice(start - VxlanEncapsulator.OverheadLength);
        var inner = slot.Slice(start, length);
        if (!_encapsulator.TryEncapsulate(inner, new Vni(vni), MacAddress.Zero, vtep.Address, scratch.NextIdentification++, destination, out int written, out var reason))
        {
            Drop(Counters.Vtep, segment, reason == DropReason.InnerFrameTooLong ? DataPlaneDrop.TooLong : DataPlaneDrop.Malformed);
            return;
        }

        // The raw socket takes the IPv4 packet; the kernel adds the outer Ethernet header.
        if (_output.SendToVtep(vtep, destination.Slice(OuterEthernet, written - OuterEthernet)))
        {
            Counters.Total.CountEncapsulated();
            segment.Counters.CountEncapsulated();
        }
        else
        {
            Drop(Counters.Vtep, segment, DataPlaneDrop.SendFailed);
        }
    }

    /// <summary>
    /// Whether <paramref name="port"/> carries <paramref name="vni"/> now. A MAC learned before its
    /// port moved to another VNI (or a trunk stopped carrying it) stays in the table until it ages
    /// out; it must not pull frames of the old VNI into the new one.
    /// </summary>
    private static bool Carries(PortForwarding port, uint vni)
        => port.Trunk ? port.NativeVni == vni || port.VidByVni.ContainsKey(vni) : port.AccessVni == vni;

    private void Drop(TrafficCounters where, SegmentForwarding? segment, DataPlaneDrop reason)
    {
        where.CountDrop(reason);
        segment?.Counters.CountDrop(reason);
        Counters.Total.CountDrop(reason);
    }
}
