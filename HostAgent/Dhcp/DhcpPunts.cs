using System.Buffers.Binary;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Dhcp;

/// <summary>
/// DHCP client frames handed from the data plane to the agent's DHCP server (a punt, as a switch's
/// slow path takes DHCP to its CPU): a fixed ring of <see cref="Capacity"/> slots of
/// <see cref="MaxFrameLength"/> bytes, allocated once. A receive thread claims a free slot with one
/// compare-and-swap, copies the frame and marks it ready; the server takes ready slots in turn. No
/// allocation and no lock on the receive thread; a frame that finds the ring full is dropped (the
/// client retransmits, RFC 2131 §4.1) and counted by the caller. The only shared object beyond the
/// ring is the semaphore that wakes the server.
/// </summary>
internal sealed class DhcpPunts
{
    /// <summary>How many client frames can wait for the server at once.</summary>
    public const int Capacity = 64;

    /// <summary>The longest punted frame: a DHCP client message fits in 576 bytes of IPv4 (RFC 2131 §2) plus its Ethernet header; larger ones are refused.</summary>
    public const int MaxFrameLength = 1514;

    private const int Free = 0, Writing = 1, Ready = 2, Reading = 3;

    private readonly byte[][] _frames = [.. Enumerable.Range(0, Capacity).Select(_ => new byte[MaxFrameLength])];
    private readonly int[] _lengths = new int[Capacity];
    private readonly int[] _ports = new int[Capacity];
    private readonly uint[] _vnis = new uint[Capacity];
    private readonly int[] _states = new int[Capacity];
    private int _next;

    /// <summary>Released once per punted frame; the server waits on it.</summary>
    public SemaphoreSlim Signal { get; } = new(0);

    /// <summary>
    /// Whether <paramref name="frame"/> (Ethernet, VLAN tag already popped) is a DHCP client message:
    /// IPv4, UDP from port 68 to port 67 (RFC 2131 §4.1).
    /// </summary>
    public static bool IsClientMessage(ReadOnlySpan<byte> frame)
        => frame.Length > EthernetFrame.HeaderLength
            && BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(2 * EthernetFrame.MacLength)) == EtherType.Ipv4
            && Ipv4Packet.TryParse(frame.Slice(EthernetFrame.HeaderLength), out var ipv4, out _, verifyChecksum: false)
            && ipv4.Protocol == IpProtocol.Udp && !ipv4.IsFragment
            && UdpDatagram.TryParse(ipv4.Payload, out var udp, out _)
            && udp.SourcePort == DhcpMessage.ClientPort && udp.DestinationPort == DhcpMessage.ServerPort;

    /// <summary>Receive thread: copies the frame into a free slot; false when it is too long or the ring is full.</summary>
    public bool TryPunt(int port, uint vni, ReadOnlySpan<byte> frame)
    {
        if (frame.Length > MaxFrameLength)
        {
            return false;
        }

        for (int attempt = 0; attempt < Capacity; attempt++)
        {
            int slot = (int)((uint)Interlocked.Increment(ref _next) % Capacity);
            if (Interlocked.CompareExchange(ref _states[slot], Writing, Free) != Free)
            {
                continue;
            }

            frame.CopyTo(_frames[slot]);
            _lengths[slot] = frame.Length;
            _ports[slot] = port;
            _vnis[slot] = vni;
            Volatile.Write(ref _states[slot], Ready);
            Signal.Release();
            return true;
        }

        return false;
    }

    /// <summary>
    /// Server: takes the next ready frame, copying it into <paramref name="destination"/>; false when
    /// none is ready. The slot is free again when this returns.
    /// </summary>
    public bool TryTake(Span<byte> destination, out int length, out int port, out uint vni)
    {
        for (int slot = 0; slot < Capacity; slot++)
        {
            if (Interlocked.CompareExchange(ref _states[slot], Reading, Ready) != Ready)
            {
                continue;
            }

            length = _lengths[slot];
            port = _ports[slot];
            vni = _vnis[slot];
            _frames[slot].AsSpan(0, length).CopyTo(destination);
            Volatile.Write(ref _states[slot], Free);
            return true;
        }

        length = port = 0;
        vni = 0;
        return false;
    }
}
