using Fabric.HostAgent.Ports;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Forwarding;

/// <summary>The dry run behind <c>fabricctl trace</c> (docs/architecture.md, "Operating the fabric").</summary>
internal sealed partial class DataPlane
{
    /// <summary>
    /// Runs <paramref name="frame"/> as if it had arrived on local port <paramref name="portIndex"/>,
    /// through this very pipeline (<see cref="FromPort"/>), on a sandbox: a copy of the current tables
    /// whose segments count into counters of their own (<see cref="ForwardingSnapshot.ForTrace"/>), a
    /// copy of the local MAC table (<see cref="LocalMacTable.CloneForTrace"/>), counters of its own, a
    /// DHCP queue of its own and an output that records instead of sending. Nothing is sent, learned,
    /// published or counted; what the pipeline decided is read back from the sandbox
    /// (<see cref="FrameTrace.Explain"/>), so a trace and forwarding cannot drift apart: there is no
    /// second implementation of any rule. Costs a copy of the local MAC table; never on the hot path.
    /// </summary>
    /// <param name="portIndex">The ingress port's slot; it must be attached.</param>
    /// <param name="frame">An Ethernet frame (14..<see cref="FrameBatch.DefaultMaxFrameLength"/> bytes, no FCS), tagged or not.</param>
    public FrameTrace Trace(int portIndex, ReadOnlySpan<byte> frame)
    {
        var snapshot = Snapshot;
        var sandboxTables = snapshot.ForTrace();
        var macs = Macs.CloneForTrace();
        var counters = new DataPlaneCounters(snapshot.Ports.Length);
        var output = new TraceOutput(_output);
        var punts = new Dhcp.DhcpPunts();
        var sandbox = new DataPlane(sandboxTables, macs, counters, output, VtepAddress, _encapsulator.DestinationPort, External, _encapsulator.SourcePorts, punts);
        var scratch = new ForwardingScratch { Output = output };
        var slot = new byte[FrameBatch.Headroom + frame.Length];
        frame.CopyTo(slot.AsSpan(FrameBatch.Headroom));
        sandbox.FromPort(portIndex, slot, frame.Length, scratch);
        return FrameTrace.Explain(portIndex, frame, snapshot, Macs, sandboxTables, macs, counters, output, punts);
    }
}

/// <summary>
/// What a dry run sent: frames to local ports (as they would leave, tagged on a trunk) and VXLAN
/// datagrams to VTEPs (the outer IPv4 packet), recorded instead of sent. Whether a port takes
/// offloads is asked of the real output, so the sandbox takes the same decisions.
/// </summary>
internal sealed class TraceOutput(IDataPlaneOutput real) : IDataPlaneOutput
{
    /// <summary>One recorded send: to local port <see cref="Port"/> (−1 for a VTEP) or to VTEP <see cref="Vtep"/> in <see cref="Vni"/>, and the frame (the inner frame for a VTEP).</summary>
    public sealed record Sent(int Port, uint Vtep, uint Vni, byte[] Frame);

    /// <summary>The sends, in the order the pipeline made them.</summary>
    public List<Sent> Sends { get; } = [];

    /// <inheritdoc />
    public bool SendToPort(int port, ReadOnlySpan<byte> frame, in VirtioNetHeader offload)
    {
        Sends.Add(new Sent(port, 0, 0, frame.ToArray()));
        return true;
    }

    /// <inheritdoc />
    public bool PortCarriesOffloads(int port) => real.PortCarriesOffloads(port);

    /// <inheritdoc />
    public bool SendToVtep(RemoteVtep vtep, ReadOnlySpan<byte> ipv4Packet)
    {
        // Outer IPv4 (20, as the encapsulator writes it) / UDP (8) / VXLAN (8) / inner frame.
        const int vxlan = Ipv4Packet.MinHeaderLength + UdpDatagram.HeaderLength;
        VxlanHeader.TryRead(ipv4Packet.Slice(vxlan), out var vni, out _);
        Sends.Add(new Sent(-1, vtep.Address, vni.Value, ipv4Packet.Slice(vxlan + VxlanHeader.Length).ToArray()));
        return true;
    }
}
