using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Ports;

/// <summary>
/// Where the pipeline's output goes: local port <c>i</c> is the i-th opened <see cref="IFramePort"/>,
/// remote VTEPs are reached through the <see cref="VtepSocket"/>. Until the ports are attached
/// (the data plane host opens them at start) every send is refused and counted as SendFailed.
/// </summary>
internal sealed class PortOutput : IDataPlaneOutput
{
    private IFramePort[] _ports = [];
    private VtepSocket? _vtep;

    /// <summary>Hands over the opened ports (in configuration order) and the VTEP socket.</summary>
    public void Attach(IFramePort[] ports, VtepSocket vtep)
    {
        Volatile.Write(ref _vtep, vtep);
        Volatile.Write(ref _ports, ports);
    }

    /// <inheritdoc />
    public bool SendToPort(int port, ReadOnlySpan<byte> frame, in VirtioNetHeader offload)
    {
        var ports = Volatile.Read(ref _ports);
        return (uint)port < (uint)ports.Length && ports[port].Send(frame, offload);
    }

    /// <inheritdoc />
    public bool PortCarriesOffloads(int port)
    {
        var ports = Volatile.Read(ref _ports);
        return (uint)port < (uint)ports.Length && ports[port].CarriesOffloads;
    }

    /// <inheritdoc />
    public bool SendToVtep(RemoteVtep vtep, ReadOnlySpan<byte> ipv4Packet)
        => Volatile.Read(ref _vtep) is { } socket && socket.Send(ipv4Packet, vtep.SocketAddress);

    /// <inheritdoc />
    public bool CanSendSegmented(int bucket) => Volatile.Read(ref _vtep) is { } socket && socket.CanSendSegmented(bucket);

    /// <inheritdoc />
    public bool SendSegmentedToVtep(RemoteVtep vtep, int bucket, ReadOnlySpan<byte> datagrams, int datagramLength)
        => Volatile.Read(ref _vtep) is { } socket && socket.SendSegmented(vtep.Address, bucket, datagrams, datagramLength);
}
