using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.HostAgent.Ports;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Forwarding;

/// <summary>What the pipeline sends through; the agent wires it to its ports and VTEP socket (<see cref="PortOutput"/>).</summary>
internal interface IDataPlaneOutput
{
    /// <summary>
    /// Injects an Ethernet frame into local port <paramref name="port"/> (its index), with the offloads
    /// still to do (only where <see cref="PortCarriesOffloads"/>); false if the kernel refused it.
    /// </summary>
    bool SendToPort(int port, ReadOnlySpan<byte> frame, in VirtioNetHeader offload);

    /// <summary>Whether local port <paramref name="port"/> takes frames with offloads left undone (see <see cref="IFramePort.CarriesOffloads"/>).</summary>
    bool PortCarriesOffloads(int port);

    /// <summary>Sends an outer IPv4 packet (header included) to a remote VTEP; false if the kernel refused it.</summary>
    bool SendToVtep(RemoteVtep vtep, ReadOnlySpan<byte> ipv4Packet);

    /// <summary>
    /// Whether flows whose outer source port is bucket <paramref name="bucket"/> of the VTEP's
    /// source port range can be sent as a train of datagrams with UDP GSO (<see cref="SendSegmentedToVtep"/>).
    /// </summary>
    bool CanSendSegmented(int bucket) => false;

    /// <summary>
    /// Sends <paramref name="datagrams"/>, consecutive VXLAN datagrams (UDP payloads) of
    /// <paramref name="datagramLength"/> bytes each but the last (which may be shorter), to
    /// <paramref name="vtep"/> from source port bucket <paramref name="bucket"/>, in one send the
    /// kernel cuts (UDP GSO), after everything queued for the VTEP before it. False if refused.
    /// </summary>
    bool SendSegmentedToVtep(RemoteVtep vtep, int bucket, ReadOnlySpan<byte> datagrams, int datagramLength) => false;
}

/// <summary>Per receive thread: buffers the pipeline writes into, so it allocates nothing per frame.</summary>
internal sealed class ForwardingScratch
{
    /// <summary>A frame with an 802.1Q tag pushed: room for a GSO super-frame and its tag.</summary>
    public byte[] Tagged { get; } = new byte[FrameBatch.GsoMaxFrameLength + VlanTagging.TagLength];

    /// <summary>One segment of a GSO super-frame, at <see cref="FrameBatch.Headroom"/> (room for VXLAN in front).</summary>
    public byte[] Segment { get; } = new byte[FrameBatch.Headroom + FrameBatch.DefaultMaxFrameLength];

    /// <summary>VXLAN datagrams of one super-frame laid end to end for a UDP GSO send (<see cref="Ports.VtepSocket.SendSegmented"/>).</summary>
    public byte[] Train { get; } = new byte[Ports.VtepSocket.MaxSegmentedPayload];

    /// <summary>TCP segments from the underlay being joined for a local port (receive coalescing).</summary>
    public TcpCoalescer Coalescer { get; } = new();

    /// <summary>An ARP reply the agent answers with on a VM's behalf (60 bytes, the Ethernet minimum).</summary>
    public byte[] ArpReply { get; } = new byte[EthernetFrame.HeaderLength + ArpPacket.Length + 18];

    /// <summary>
    /// A frame the anycast gateway originates (an ICMP error, an ARP request), at
    /// <see cref="FrameBatch.Headroom"/> so it can be encapsulated in place: at most 14 + 576 bytes
    /// (RFC 1812 §4.3.2.3: an ICMP error is at most 576 bytes).
    /// </summary>
    public byte[] Originated { get; } = new byte[FrameBatch.Headroom + EthernetFrame.HeaderLength + DataPlane.MaxIcmpErrorLength];

    /// <summary>A mirrored copy with its encapsulation (<see cref="DataPlane.SendMirrorCopy"/>): headroom and a jumbo frame.</summary>
    public byte[] Mirror { get; } = new byte[FrameBatch.Headroom + Mirroring.CaptureRing.SnapLength];

    public ushort NextIdentification;

    /// <summary>
    /// This thread's output, when it batches sends (<see cref="BatchingOutput"/>: flushed after each
    /// received batch); null sends through the data plane's own output at once.
    /// </summary>
    public IDataPlaneOutput? Output { get; init; }
}

/// <summary>
/// The per-frame pipeline (docs/architecture.md, "Data plane"). Reads only the current
/// <see cref="ForwardingSnapshot"/> and the lock-free <see cref="LocalMacTable"/>: no grain call, no
/// allocation, no log line, no lock shared with the control plane.
/// </summary>
internal sealed partial class DataPlane
{
    private const int OuterEthernet = EthernetFrame.HeaderLength;

    private readonly IDataPlaneOutput _output;
    private readonly Dhcp.DhcpPunts? _dhcp;
    private readonly VxlanEncapsulator _encapsulator;
    private ForwardingSnapshot _snapshot;
    private Mirroring.MirrorSet? _mirrors;
    private long _publications;

    /// <param name="sourcePorts">The outer UDP source ports flows are spread over (RFC 7348 §5); 49152..65535 by default.</param>
    /// <param name="dhcp">Where DHCP client frames of segments that serve DHCP go (the agent's DHCP server); null drops them as <see cref="DataPlaneDrop.DhcpUnserved"/>.</param>
    public DataPlane(ForwardingSnapshot initial, LocalMacTable macs, DataPlaneCounters counters, IDataPlaneOutput output, uint vtepAddress, ushort vxlanPort, ExternalMacTable? external = null, SourcePortRange sourcePorts = default, Dhcp.DhcpPunts? dhcp = null)
    {
        _dhcp = dhcp;
        _snapshot = initial;
        Macs = macs;
        External = external ?? new ExternalMacTable();
        Counters = counters;
        _output = output;
        VtepAddress = vtepAddress;
        _encapsulator = new VxlanEncapsulator(MacAddress.Zero, vtepAddress, destinationPort: vxlanPort, sourcePorts: sourcePorts);
    }

    /// <summary>MACs learned on local ports.</summary>
    public LocalMacTable Macs { get; }

    /// <summary>MACs learned behind external VTEPs from their datagrams.</summary>
    public ExternalMacTable External { get; }

    public DataPlaneCounters Counters { get; }

    public uint VtepAddress { get; }

    /// <summary>The tables frames are forwarded on now.</summary>
    public ForwardingSnapshot Snapshot => Volatile.Read(ref _snapshot);

    /// <summary>How many times <see cref="Publish"/> replaced the tables: housekeeping saves them when it moves.</summary>
    public long Publications => Volatile.Read(ref _publications);

    /// <summary>
    /// The port mirrors active now (local captures and this host's remote sessions); null while there
    /// are none (the common case: one load and a branch per frame). Tests set it directly.
    /// </summary>
    public Mirroring.MirrorSet? Mirrors
    {
        get => Volatile.Read(ref _mirrors);
        set => Volatile.Write(ref _mirrors, value);
    }

    private readonly Lock _mirrorGate = new();
    private (int Slot, Grains.MirrorDirection Direction, Mirroring.MirrorSink Sink)[] _localMirrors = [];
    private Mirroring.RemoteMirrorSpec[] _remoteSpecs = [];
    private (int Slot, Grains.MirrorDirection Direction, Mirroring.MirrorSink Sink)[] _remoteMirrors = [];

    /// <summary>Control side: the local captures now active (<see cref="Mirroring.LocalMirrors"/>); the mirrors are rebuilt with them.</summary>
    public void SetLocalMirrors((int Slot, Grains.MirrorDirection Direction, Mirroring.MirrorSink Sink)[] local)
    {
        lock (_mirrorGate)
        {
            _localMirrors = local;
            RebuildMirrorsLocked();
        }
    }

    /// <summary>
    /// After a publication: when the remote sessions of the new tables differ from those running,
    /// their sinks are made again (a session that did not change keeps its sink and its sequence).
    /// </summary>
    private void UpdateRemoteMirrors(ForwardingSnapshot snapshot)
    {
        if (snapshot.RemoteMirrors.AsSpan().SequenceEqual(_remoteSpecs))
        {
            return;
        }

        lock (_mirrorGate)
        {
            var previous = _remoteSpecs.Zip(_remoteMirrors).ToDictionary(p => p.First, p => p.Second.Sink);
            _remoteMirrors = [.. snapshot.RemoteMirrors.Select(spec => (spec.Slot, spec.Direction, previous.TryGetValue(spec, out var sink) ? sink : new Mirroring.RemoteMirror(spec.Session, _encapsulator.DestinationPort)))];
            _remoteSpecs = snapshot.RemoteMirrors;
            RebuildMirrorsLocked();
        }
    }

    private void RebuildMirrorsLocked()
        => Volatile.Write(ref _mirrors, Mirroring.MirrorSet.Of(Snapshot.Ports.Length, _localMirrors.Concat(_remoteMirrors)));

    /// <summary>Control plane: replaces the tables the data plane reads (copy-on-write; readers never wait).</summary>
    public void Publish(ForwardingSnapshot snapshot)
    {
        Volatile.Write(ref _snapshot, snapshot);
        Interlocked.Increment(ref _publications);
        UpdateRemoteMirrors(snapshot);
    }

    /// <summary>
    /// A frame captured on local port <paramref name="portIndex"/>, sitting in <paramref name="slot"/>
    /// at <see cref="FrameBatch.Headroom"/> with <paramref name="length"/> bytes, with the offloads the
    /// VM left undone (<paramref name="received"/>: a partial checksum, a GSO super-frame). Runs the
    /// stages in order: VLAN → segment → reserved group addresses → port security and learning → ARP
    /// → lookup → deliver, encapsulate or flood (with copies to promiscuous ports). A super-frame goes
    /// whole to ports that take offloads and is cut into segments, checksums complete, for the others
    /// and for every VTEP.
    /// </summary>
    public void FromPort(int portIndex, Span<byte> slot, int length, ForwardingScratch scratch, in VirtioNetHeader received = default)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        var port = snapshot.Ports[portIndex];
        var portCounters = Counters.Ports[portIndex];
        portCounters.CountReceived(length);
        Counters.Total.CountReceived(length);
        if (Volatile.Read(ref _mirrors) is { } mirrors)
        {
            // As the port sent it, before anything is popped or rewritten.
            Mirroring.MirrorSet.Copy(mirrors.Ingress[portIndex], this, slot.Slice(FrameBatch.Headroom, length), scratch);
        }

        var offload = received;
        if (!TryClassifyVlan(port, portCounters, slot, ref length, ref offload, out uint vni))
        {
            return;
        }

        if (!snapshot.Segments.TryGetValue(vni, out var segment))
        {
            Drop(portCounters, null, DataPlaneDrop.NoSegment);
            return;
        }

        segment.Counters.CountReceived(length);
        var frame = slot.Slice(FrameBatch.Headroom, length);
        var destination = MacAddress.Read(frame);
        if (IsFilteredReservedGroup(destination, segment))
        {
            Drop(portCounters, segment, DataPlaneDrop.ReservedGroupAddress);
            return;
        }

        if (!TryAdmitSource(port, portCounters, vni, frame, segment, out var source))
        {
            return;
        }

        if (port.IsUplink && !destination.IsMulticast
            && !(Macs.TryGet(vni, destination.Value, out var owner) && owner.Port != portIndex && Carries(snapshot.Ports[owner.Port], vni)))
        {
            // From the physical LAN only what is for this host's VMs: the uplink also carries the
            // underlay and everyone else's traffic (a vSphere switch drops unknown unicast from uplinks).
            Drop(portCounters, segment, DataPlaneDrop.UplinkNotForThisHost);
            return;
        }

        if (segment.Dhcp is not null && Dhcp.DhcpPunts.IsClientMessage(frame))
        {
            // To the agent's DHCP server, and nowhere else: the segment's DHCP is the fabric's.
            if (_dhcp is null || !_dhcp.TryPunt(portIndex, vni, frame))
            {
                Drop(portCounters, segment, DataPlaneDrop.DhcpUnserved);
            }

            return;
        }

        if (TryHandleArp(portIndex, vni, frame, source, destination, snapshot, segment, scratch))
        {
            return;
        }

        if (segment.Router is { } router && destination.Value == PortGroupGatewayMac)
        {
            Route(portIndex, slot, length, router, snapshot, segment, portCounters, scratch, ref offload);
            return;
        }

        if (!destination.IsMulticast && TryForwardUnicast(portIndex, vni, slot, length, destination, snapshot, segment, portCounters, scratch, ref offload))
        {
            return;
        }

        Flood(portIndex, vni, slot, length, snapshot, segment, scratch, ref offload);
    }

    /// <summary>
    /// Stage VLAN (IEEE 802.1Q): the VNI of the frame from the port's policy, and the tag popped in
    /// place. An access port takes untagged (and priority-tagged) frames into its port group's VNI;
    /// a trunk maps each allowed VID to its VNI and untagged frames to the native VLAN's.
    /// </summary>
    private bool TryClassifyVlan(PortForwarding port, TrafficCounters portCounters, Span<byte> slot, ref int length, ref VirtioNetHeader offload, out uint vni)
    {
        vni = 0;
        var frame = slot.Slice(FrameBatch.Headroom, length);
        if (!EthernetFrame.TryParse(frame, out var ethernet, out var reason))
        {
            // Stacked tags are a policy drop with a reason of their own (VLAN hopping), counted once.
            if (reason == DropReason.StackedVlanTags)
            {
                Drop(portCounters, null, DataPlaneDrop.StackedVlanTags);
            }
            else
            {
                CountMalformed(portCounters, reason);
            }

            return false;
        }

        bool priorityTagged = ethernet.IsTagged && ethernet.Tag.IsPriorityTag;
        if (ethernet.IsTagged && !priorityTagged)
        {
            if (!port.Trunk)
            {
                Drop(portCounters, null, DataPlaneDrop.TaggedOnAccessPort);
                return false;
            }

            if (!port.VniByVid.TryGetValue(ethernet.Tag.Vid, out vni))
            {
                Drop(portCounters, null, DataPlaneDrop.VlanNotAllowed);
                return false;
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
                return false;
            }
        }

        if (ethernet.IsTagged)
        {
            // The overlay carries untagged frames (RFC 7348 §6.1): pop the tag in place; the frame
            // keeps its start and loses 4 bytes.
            if (!VlanTagging.TryPopInPlace(slot.Slice(FrameBatch.Headroom), length, out _, out int untagged, out reason))
            {
                CountMalformed(portCounters, reason);
                return false;
            }

            length = untagged;
            offload = offload.Shifted(-VlanTagging.TagLength);
        }

        return true;
    }

    /// <summary>
    /// Stages port security and learning: a source MAC that is not a valid unicast address is
    /// dropped; with forged transmits rejected, one that is not the port's effective MAC is dropped;
    /// the anycast gateway's MAC is dropped from any port but a gateway port the agent plumbed (a VM
    /// must not speak as the gateway);
    /// a new one beyond the port group's MAC limit is dropped; otherwise it is learned on the port
    /// (and queued for publishing when new or moved).
    /// </summary>
    private bool TryAdmitSource(PortForwarding port, TrafficCounters portCounters, uint vni, ReadOnlySpan<byte> frame, SegmentForwarding segment, out MacAddress source)
    {
        source = MacAddress.Read(frame.Slice(EthernetFrame.MacLength));
        if (!source.IsValidUnicast)
        {
            Drop(portCounters, segment, DataPlaneDrop.InvalidSourceMac);
            return false;
        }

        if ((!port.AllowForgedTransmits && !IsEffectiveMac(port, source.Value)) || (source.Value == PortGroupGatewayMac && port.EffectiveMac != PortGroupGatewayMac))
        {
            Drop(portCounters, segment, DataPlaneDrop.ForgedTransmit);
            return false;
        }

        if (!Macs.Learn(vni, source.Value, port.Index, port.MacLimit, Environment.TickCount64))
        {
            Drop(portCounters, segment, DataPlaneDrop.MacLimitExceeded);
            return false;
        }

        return true;
    }

    /// <summary>
    /// Stage ARP (RFC 826): the sender's address is snooped as a claim of its MAC, but only when the
    /// ARP sender is the frame's own source (a VM cannot bind an address to someone else's MAC); a
    /// broadcast request for a bound address is answered here (ARP suppression). True when the frame
    /// was consumed.
    /// </summary>
    private bool TryHandleArp(int portIndex, uint vni, ReadOnlySpan<byte> frame, MacAddress source, MacAddress destination, ForwardingSnapshot snapshot, SegmentForwarding segment, ForwardingScratch scratch)
    {
        if (BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(2 * EthernetFrame.MacLength)) != EtherType.Arp
            || !ArpPacket.TryRead(frame.Slice(EthernetFrame.HeaderLength), out var arp, out _)
            || arp.SenderHardwareAddress != source
            || arp.SenderProtocolAddress == 0)
        {
            return false;
        }

        Macs.Claim(vni, source.Value, arp.SenderProtocolAddress);
        return destination.IsBroadcast && TrySuppressArp(in arp, portIndex, vni, snapshot, segment, scratch);
    }

    /// <summary>
    /// Stage lookup for a unicast destination: a MAC learned on another local port that still
    /// carries the VNI is delivered there; a remote MAC is encapsulated to its VTEP. False when the
    /// destination is unknown (the frame is flooded).
    /// </summary>
    private bool TryForwardUnicast(int portIndex, uint vni, Span<byte> slot, int length, MacAddress destination, ForwardingSnapshot snapshot, SegmentForwarding segment, TrafficCounters portCounters, ForwardingScratch scratch, ref VirtioNetHeader offload)
    {
        var frame = slot.Slice(FrameBatch.Headroom, length);
        if (Macs.TryGet(vni, destination.Value, out var local) && Carries(snapshot.Ports[local.Port], vni))
        {
            int target = local.Port;
            if (target == portIndex)
            {
                Drop(portCounters, segment, DataPlaneDrop.Hairpin);
                return true;
            }

            DeliverLocal(snapshot.Ports[target], vni, frame, snapshot, segment, scratch, ref offload);
            CopyToPromiscuous(portIndex, target, vni, frame, snapshot, segment, scratch, ref offload);
            return true;
        }

        if (segment.RemoteMacs.TryGetValue(destination.Value, out var vtep))
        {
            // Local copies before encapsulating, which writes the outer headers in front of the frame.
            CopyToPromiscuous(portIndex, -1, vni, frame, snapshot, segment, scratch, ref offload);
            Encapsulate(slot, FrameBatch.Headroom, length, vni, vtep, snapshot, segment, scratch, ref offload);
            return true;
        }

        return false;
    }

    /// <summary>
    /// Promiscuous mode: a copy of a unicast frame of the VNI to every promiscuous port of the segment
    /// other than the one it came in on (<paramref name="ingress"/>, -1 from a VTEP) and the one it
    /// was delivered to (<paramref name="delivered"/>, -1 for none). Flooded frames reach them anyway.
    /// </summary>
    private void CopyToPromiscuous(int ingress, int delivered, uint vni, Span<byte> frame, ForwardingSnapshot snapshot, SegmentForwarding segment, ForwardingScratch scratch, ref VirtioNetHeader offload)
    {
        foreach (int port in segment.PromiscuousPorts)
        {
            if (port != ingress && port != delivered)
            {
                DeliverLocal(snapshot.Ports[port], vni, frame, snapshot, segment, scratch, ref offload);
            }
        }
    }

    /// <summary>
    /// Whether <paramref name="source"/> is the effective MAC of <paramref name="port"/>: the one
    /// configured on it; without one, on an access port the first MAC learned there; a trunk without
    /// a configured MAC carries several guests and has no single effective MAC, so it is not checked.
    /// </summary>
    private bool IsEffectiveMac(PortForwarding port, ulong source)
    {
        if (port.EffectiveMac != 0)
        {
            return port.EffectiveMac == source;
        }

        return port.Trunk || Macs.IsFirstLearned(port.Index, source);
    }

    /// <summary>
    /// IEEE 802.1Q §8.6.3, Table 8-1: frames to 01-80-C2-00-00-00..0F are link-local (STP, PAUSE,
    /// LACP, EAPOL, LLDP, ...) and a bridge does not forward them, unless the segment's port group
    /// opted in for that address (<see cref="SegmentForwarding.ReservedGroupForwardMask"/>).
    /// </summary>
    private static bool IsFilteredReservedGroup(MacAddress destination, SegmentForwarding segment)
        => (destination.Value & ~0xFUL) == 0x0180_C200_0000UL
            && (segment.ReservedGroupForwardMask & (1 << (int)(destination.Value & 0xF))) == 0;

    /// <summary>
    /// Stage flood for broadcast, multicast and unknown unicast: every other local port of the VNI,
    /// then head-end replication to every other VTEP of the segment (RFC 7348 §4.2). Local copies go
    /// first because encapsulating writes the outer headers over the headroom in front of the frame.
    /// </summary>
    private void Flood(int portIndex, uint vni, Span<byte> slot, int length, ForwardingSnapshot snapshot, SegmentForwarding segment, ForwardingScratch scratch, ref VirtioNetHeader offload)
    {
        Counters.Total.CountFlooded();
        segment.Counters.CountFlooded();
        var frame = slot.Slice(FrameBatch.Headroom, length);
        foreach (int other in segment.LocalPorts)
        {
            if (other != portIndex)
            {
                DeliverLocal(snapshot.Ports[other], vni, frame, snapshot, segment, scratch, ref offload);
            }
        }

        foreach (var vtep in segment.FloodList)
        {
            Encapsulate(slot, FrameBatch.Headroom, length, vni, vtep, snapshot, segment, scratch, ref offload);
        }
    }

    /// <summary>
    /// Control side (the DHCP server): sends <paramref name="frame"/> to local port
    /// <paramref name="port"/> as a frame of <paramref name="vni"/> (tagged on a trunk), with
    /// <paramref name="scratch"/> of the caller's own thread; false when the port no longer carries
    /// the VNI.
    /// </summary>
    public bool SendOriginated(int port, uint vni, Span<byte> frame, ForwardingScratch scratch)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        if ((uint)port >= (uint)snapshot.Ports.Length || !Carries(snapshot.Ports[port], vni) || !snapshot.Segments.TryGetValue(vni, out var segment))
        {
            return false;
        }

        var finished = VirtioNetHeader.None;
        DeliverLocal(snapshot.Ports[port], vni, frame, snapshot, segment, scratch, ref finished);
        return true;
    }

    /// <summary>A frame on local port <paramref name="portIndex"/> longer than a slot: counted, dropped.</summary>
    public void OversizedFromPort(int portIndex)
    {
        var counters = Counters.Ports[portIndex];
        counters.CountReceived();
        Counters.Total.CountReceived();
        Drop(counters, null, DataPlaneDrop.TooLong);
    }

    /// <summary>A datagram on the VTEP socket longer than a slot (beyond any jumbo frame): counted, dropped.</summary>
    public void OversizedFromVtep()
    {
        Counters.Vtep.CountReceived();
        Counters.Total.CountReceived();
        Drop(Counters.Vtep, null, DataPlaneDrop.TooLong);
    }

    /// <summary>
    /// A VXLAN datagram (UDP payload) from <paramref name="outerSource"/> (host order), in
    /// <paramref name="slot"/> at the headroom: validated, accepted only from a VTEP of its segment
    /// (never our own address), decapsulated and delivered by destination MAC or flooded to the local
    /// ports of the VNI. The inner source of a datagram from an external VTEP is learned.
    /// </summary>
    public void FromVtep(uint outerSource, Span<byte> slot, int length, ForwardingScratch scratch)
    {
        var counters = Counters.Vtep;
        counters.CountReceived(length);
        Counters.Total.CountReceived(length);
        var datagram = slot.Slice(FrameBatch.Headroom, length);
        if (!VxlanDecapsulator.TryDecapsulate(datagram, out var vni, out var innerView, out var reason))
        {
            CountMalformed(counters, reason);
            return;
        }

        if (outerSource == VtepAddress)
        {
            // Never accept our own datagrams back (a VTEP configured at our own address, a loop).
            Drop(counters, null, DataPlaneDrop.FromOwnVtep);
            return;
        }

        var snapshot = Volatile.Read(ref _snapshot);
        if (!snapshot.Segments.TryGetValue(vni.Value, out var segment))
        {
            Drop(counters, null, DataPlaneDrop.UnknownVni);
            return;
        }

        // The inner frame as a writable slice of the slot (the decapsulator hands a read-only view).
        var inner = datagram.Slice(datagram.Length - innerView.Length);
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

        segment.Counters.CountReceived(inner.Length);
        if (segment.ExternalVteps.Count != 0 && segment.ExternalVteps.Contains(outerSource))
        {
            // RFC 7348 §4.1: learn the inner source → outer source, for VTEPs with no agent of ours.
            var innerSource = MacAddress.Read(inner.Slice(EthernetFrame.MacLength));
            if (innerSource.IsValidUnicast && !Macs.TryGet(vni.Value, innerSource.Value, out _))
            {
                External.Learn(vni.Value, innerSource.Value, outerSource, Environment.TickCount64);
            }
        }

        var destination = MacAddress.Read(inner);
        if (IsFilteredReservedGroup(destination, segment))
        {
            Drop(counters, segment, DataPlaneDrop.ReservedGroupAddress);
            return;
        }

        var finished = VirtioNetHeader.None;
        if (!destination.IsMulticast && Macs.TryGet(vni.Value, destination.Value, out var local) && Carries(snapshot.Ports[local.Port], vni.Value))
        {
            // The common case of a TCP stream: join it with the segments before it for the VM.
            if (segment.PromiscuousPorts.Length == 0 && (scratch.Output ?? _output).PortCarriesOffloads(local.Port))
            {
                if (scratch.Coalescer.TryAdd(inner, local.Port, vni.Value, segment))
                {
                    return;
                }

                if (scratch.Coalescer.IsActive)
                {
                    FlushCoalesced(scratch);
                    if (scratch.Coalescer.TryAdd(inner, local.Port, vni.Value, segment))
                    {
                        return;
                    }
                }
            }

            FlushCoalesced(scratch);
            DeliverLocal(snapshot.Ports[local.Port], vni.Value, inner, snapshot, segment, scratch, ref finished);
            CopyToPromiscuous(-1, local.Port, vni.Value, inner, snapshot, segment, scratch, ref finished);
            return;
        }

        FlushCoalesced(scratch); // what was joined so far goes before anything that follows it

        // Flood to local ports only: the sender already replicated to every VTEP (split horizon).
        Counters.Total.CountFlooded();
        segment.Counters.CountFlooded();
        foreach (int port in segment.LocalPorts)
        {
            DeliverLocal(snapshot.Ports[port], vni.Value, inner, snapshot, segment, scratch, ref finished);
        }
    }

    /// <summary>
    /// Hands over the TCP segments joined so far (<see cref="ForwardingScratch.Coalescer"/>) to their
    /// local port as one super-frame; the receive loop calls it after every received batch.
    /// </summary>
    public void FlushCoalesced(ForwardingScratch scratch)
    {
        var coalescer = scratch.Coalescer;
        if (!coalescer.IsActive)
        {
            return;
        }

        var snapshot = Volatile.Read(ref _snapshot);
        var segment = coalescer.Segment!;
        int port = coalescer.Port;
        uint vni = coalescer.Vni;
        var frame = coalescer.Take(out var offload);
        if ((uint)port < (uint)snapshot.Ports.Length)
        {
            DeliverLocal(snapshot.Ports[port], vni, frame, snapshot, segment, scratch, ref offload);
        }
    }

    /// <summary>
    /// ARP suppression (docs/architecture.md, "Data plane"; EVPN's proxy ARP, RFC 9161): a broadcast request for an address the segment
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

        AnswerArp(in request, new MacAddress(bound), portIndex, vni, snapshot, segment, scratch);
        return true;
    }

    /// <summary>
    /// Answers ARP request <paramref name="request"/> on the asking port with
    /// <paramref name="owner"/> as the MAC of its target address (RFC 826 reply, padded to 60 bytes):
    /// ARP suppression, and the anycast gateway answering for itself.
    /// </summary>
    private void AnswerArp(in ArpPacket request, MacAddress owner, int portIndex, uint vni, ForwardingSnapshot snapshot, SegmentForwarding segment, ForwardingScratch scratch)
    {
        var reply = scratch.ArpReply.AsSpan();
        request.SenderHardwareAddress.Write(reply);
        owner.Write(reply.Slice(EthernetFrame.MacLength));
        BinaryPrimitives.WriteUInt16BigEndian(reply.Slice(2 * EthernetFrame.MacLength), EtherType.Arp);
        new ArpPacket(ArpOperation.Reply, owner, request.TargetProtocolAddress, request.SenderHardwareAddress, request.SenderProtocolAddress)
            .Write(reply.Slice(EthernetFrame.HeaderLength));
        reply.Slice(EthernetFrame.HeaderLength + ArpPacket.Length).Clear();

        Counters.Total.CountArpSuppressed();
        segment.Counters.CountArpSuppressed();
        var finished = VirtioNetHeader.None;
        DeliverLocal(snapshot.Ports[portIndex], vni, reply, snapshot, segment, scratch, ref finished);
    }

    /// <summary>
    /// Sends <paramref name="frame"/> to local port <paramref name="port"/>, tagged on a trunk. A port
    /// that takes offloads gets the frame as it is, with <paramref name="offload"/> (shifted for the
    /// tag); for any other, a super-frame is cut into segments and a partial checksum completed in
    /// place (after which <paramref name="offload"/> no longer asks for it).
    /// </summary>
    private void DeliverLocal(PortForwarding port, uint vni, Span<byte> frame, ForwardingSnapshot snapshot, SegmentForwarding segment, ForwardingScratch scratch, ref VirtioNetHeader offload)
    {
        if (offload.HasWork && !(scratch.Output ?? _output).PortCarriesOffloads(port.Index))
        {
            if (offload.IsGso)
            {
                DeliverSegmented(port, vni, frame, offload, snapshot, segment, scratch);
                return;
            }

            if (!TryCompleteChecksum(frame, ref offload, Counters.Ports[port.Index], segment))
            {
                return;
            }
        }

        ReadOnlySpan<byte> outgoing = frame;
        var outgoingOffload = offload;
        if (port.Trunk && port.VidByVni.TryGetValue(vni, out ushort vid))
        {
            if (!VlanTagging.TryPush(frame, scratch.Tagged, new VlanTag(vid), out int written, out var reason))
            {
                Counters.Ports[port.Index].CountMalformed(reason);
                return;
            }

            outgoing = scratch.Tagged.AsSpan(0, written);
            outgoingOffload = offload.Shifted(VlanTagging.TagLength);
        }

        if ((scratch.Output ?? _output).SendToPort(port.Index, outgoing, outgoingOffload))
        {
            if (Volatile.Read(ref _mirrors) is { } mirrors)
            {
                Mirroring.MirrorSet.Copy(mirrors.Egress[port.Index], this, outgoing, scratch);
            }

            Counters.Ports[port.Index].CountDelivered(outgoing.Length);
            segment.Counters.CountDelivered(outgoing.Length);
            Counters.Total.CountDelivered(outgoing.Length);
        }
        else
        {
            Drop(Counters.Ports[port.Index], segment, DataPlaneDrop.SendFailed);
        }
    }

    /// <summary>A GSO super-frame to a port that takes finished frames only: each segment is delivered on its own.</summary>
    private void DeliverSegmented(PortForwarding port, uint vni, ReadOnlySpan<byte> frame, in VirtioNetHeader offload, ForwardingSnapshot snapshot, SegmentForwarding segment, ForwardingScratch scratch)
    {
        if (!TryStartSegmenting(frame, offload, snapshot, Counters.Ports[port.Index], segment, out var segmenter))
        {
            return;
        }

        var space = scratch.Segment.AsSpan(FrameBatch.Headroom);
        var finished = VirtioNetHeader.None;
        while (segmenter.TryNext(space, out int written))
        {
            DeliverLocal(port, vni, space.Slice(0, written), snapshot, segment, scratch, ref finished);
        }
    }

    /// <summary>
    /// Encapsulates the frame in <paramref name="slot"/> at <paramref name="start"/> to
    /// <paramref name="vtep"/>. The wire takes finished frames only: a super-frame is cut into segments
    /// that fit the segment's MTU, each encapsulated on its own, and a partial checksum is completed in
    /// place first (after which <paramref name="offload"/> no longer asks for it).
    /// </summary>
    private void Encapsulate(Span<byte> slot, int start, int length, uint vni, RemoteVtep vtep, ForwardingSnapshot snapshot, SegmentForwarding segment, ForwardingScratch scratch, ref VirtioNetHeader offload)
    {
        if (offload.HasWork)
        {
            if (offload.IsGso)
            {
                EncapsulateSegmented(slot.Slice(start, length), offload, vni, vtep, snapshot, segment, scratch);
                return;
            }

            if (!TryCompleteChecksum(slot.Slice(start, length), ref offload, Counters.Vtep, segment))
            {
                return;
            }
        }

        Encapsulate(slot, start, length, vni, vtep, segment, scratch);
    }

    private void EncapsulateSegmented(ReadOnlySpan<byte> frame, in VirtioNetHeader offload, uint vni, RemoteVtep vtep, ForwardingSnapshot snapshot, SegmentForwarding segment, ForwardingScratch scratch)
    {
        if (!TryStartSegmenting(frame, offload, snapshot, Counters.Vtep, segment, out var segmenter))
        {
            return;
        }

        var output = scratch.Output ?? _output;
        int bucket = _encapsulator.SourcePorts.Bucket(FlowHash.Compute(frame));
        if (segmenter.Count > 1 && output.CanSendSegmented(bucket))
        {
            SendTrains(ref segmenter, vni, vtep, bucket, segment, scratch, output);
            return;
        }

        var slot = scratch.Segment.AsSpan();
        while (segmenter.TryNext(slot.Slice(FrameBatch.Headroom), out int written))
        {
            Encapsulate(slot, FrameBatch.Headroom, written, vni, vtep, segment, scratch);
        }
    }

    /// <summary>
    /// A super-frame to a VTEP with UDP GSO: its segments, each behind a VXLAN header (RFC 7348 §5),
    /// are laid end to end in <see cref="ForwardingScratch.Train"/> and leave in one send per train
    /// (at most <see cref="VtepSocket.MaxSegmentsPerSend"/> datagrams and 65,507 bytes); the kernel
    /// writes each datagram's outer IPv4 and UDP headers from the bucket's socket, so every datagram
    /// of the flow keeps the source port the raw path would give it. The segmenter cuts every
    /// segment but the last to one size, which UDP GSO requires.
    /// </summary>
    private void SendTrains(ref GsoSegmenter segmenter, uint vni, RemoteVtep vtep, int bucket, SegmentForwarding segment, ForwardingScratch scratch, IDataPlaneOutput output)
    {
        var train = scratch.Train.AsSpan();
        int used = 0, count = 0, datagramLength = 0;
        while (true)
        {
            if (count > 0 && used + datagramLength > train.Length)
            {
                SendTrain(train.Slice(0, used), count, datagramLength, vtep, bucket, segment, output);
                used = count = 0;
            }

            if (!segmenter.TryNext(train.Slice(used + VxlanHeader.Length), out int written))
            {
                break;
            }

            VxlanHeader.Write(train.Slice(used), new Vni(vni));
            int length = VxlanHeader.Length + written;
            datagramLength = count == 0 ? length : datagramLength;
            used += length;
            count++;
            if (length < datagramLength || count == VtepSocket.MaxSegmentsPerSend)
            {
                // The short last segment, or the most one send may carry, ends a train.
                SendTrain(train.Slice(0, used), count, datagramLength, vtep, bucket, segment, output);
                used = count = 0;
            }
        }

        if (count > 0)
        {
            SendTrain(train.Slice(0, used), count, datagramLength, vtep, bucket, segment, output);
        }
    }

    private void SendTrain(ReadOnlySpan<byte> train, int count, int datagramLength, RemoteVtep vtep, int bucket, SegmentForwarding segment, IDataPlaneOutput output)
    {
        if (output.SendSegmentedToVtep(vtep, bucket, train, datagramLength))
        {
            Counters.Total.CountEncapsulated(count, train.Length);
            Counters.Vtep.CountEncapsulated(count, train.Length);
            segment.Counters.CountEncapsulated(count, train.Length - (count * VxlanHeader.Length));
            return;
        }

        for (int i = 0; i < count; i++)
        {
            Drop(Counters.Vtep, segment, DataPlaneDrop.SendFailed);
        }
    }

    private bool TryStartSegmenting(ReadOnlySpan<byte> frame, in VirtioNetHeader offload, ForwardingSnapshot snapshot, TrafficCounters where, SegmentForwarding segment, out GsoSegmenter segmenter)
    {
        int maxFrame = Math.Min(snapshot.MaxInnerFrameLength, FrameBatch.DefaultMaxFrameLength);
        if (GsoSegmenter.TryCreate(frame, offload, maxFrame, out segmenter, out var reason))
        {
            return true;
        }

        if (reason == DropReason.SegmentTooLong)
        {
            Drop(where, segment, DataPlaneDrop.TooLong);
        }
        else
        {
            CountMalformed(where, reason);
        }

        return false;
    }

    private bool TryCompleteChecksum(Span<byte> frame, ref VirtioNetHeader offload, TrafficCounters where, SegmentForwarding segment)
    {
        if (!Offloads.TryCompleteChecksum(frame, offload, out var reason))
        {
            CountMalformed(where, reason);
            segment.Counters.CountDrop(DataPlaneDrop.Malformed);
            return false;
        }

        // Done once, in place: every later destination gets the finished frame.
        offload = offload with { Flags = (byte)(offload.Flags & ~VirtioNetHeader.FlagNeedsChecksum) };
        return true;
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
        if ((scratch.Output ?? _output).SendToVtep(vtep, destination.Slice(OuterEthernet, written - OuterEthernet)))
        {
            Counters.Total.CountEncapsulated(1, VxlanHeader.Length + length);
            Counters.Vtep.CountEncapsulated(1, VxlanHeader.Length + length);
            segment.Counters.CountEncapsulated(1, length);
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

    private void CountMalformed(TrafficCounters where, DropReason reason)
    {
        where.CountMalformed(reason);
        Counters.Total.CountMalformed(reason);
    }

    private void Drop(TrafficCounters where, SegmentForwarding? segment, DataPlaneDrop reason)
    {
        where.CountDrop(reason);
        segment?.Counters.CountDrop(reason);
        Counters.Total.CountDrop(reason);
    }
}
