using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Wire;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Ports;

/// <summary>
/// Where the pipeline's output goes: local port slot <c>i</c> is the <see cref="IFramePort"/> set
/// there (<see cref="SetPort"/>), remote VTEPs are reached through the <see cref="VtepSocket"/>. A
/// send to a free slot, or before the VTEP socket is set, is refused (the caller counts SendFailed).
/// Slots are replaced one at a time while receive threads read them: a reader sees the old port or
/// the new one, never a torn state.
/// </summary>
internal sealed class PortOutput(IOptions<AgentOptions> options) : IDataPlaneOutput
{
    private readonly IFramePort?[] _ports = new IFramePort?[options.Value.MaxPorts];
    private VtepSocket? _vtep;

    /// <summary>How many port slots there are (<see cref="AgentOptions.MaxPorts"/>).</summary>
    public int Capacity => _ports.Length;

    /// <summary>The VTEP socket, once set.</summary>
    public VtepSocket? Vtep => Volatile.Read(ref _vtep);

    /// <summary>Hands over the VTEP socket.</summary>
    public void SetVtep(VtepSocket vtep) => Volatile.Write(ref _vtep, vtep);

    /// <summary>Puts <paramref name="port"/> in <paramref name="slot"/> (null frees it).</summary>
    public void SetPort(int slot, IFramePort? port) => Volatile.Write(ref _ports[slot], port);

    /// <summary>The port in <paramref name="slot"/>, null for a free or unknown slot.</summary>
    public IFramePort? Port(int slot) => (uint)slot < (uint)_ports.Length ? Volatile.Read(ref _ports[slot]) : null;

    /// <inheritdoc />
    public bool SendToPort(int port, ReadOnlySpan<byte> frame, in VirtioNetHeader offload)
        => Port(port) is { } target && target.Send(frame, offload);

    /// <inheritdoc />
    public bool PortCarriesOffloads(int port) => Port(port) is { CarriesOffloads: true };

    /// <inheritdoc />
    public bool SendToVtep(RemoteVtep vtep, ReadOnlySpan<byte> ipv4Packet)
        => Volatile.Read(ref _vtep) is { } socket && socket.Send(ipv4Packet, vtep.SocketAddress);

    /// <inheritdoc />
    public bool CanSendSegmented(int bucket) => Volatile.Read(ref _vtep) is { } socket && socket.CanSendSegmented(bucket);

    /// <inheritdoc />
    public bool SendSegmentedToVtep(RemoteVtep vtep, int bucket, ReadOnlySpan<byte> datagrams, int datagramLength)
        => Volatile.Read(ref _vtep) is { } socket && socket.SendSegmented(vtep.Address, bucket, datagrams, datagramLength);
}
