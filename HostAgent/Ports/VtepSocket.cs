using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Fabric.HostAgent.Ports;

/// <summary>
/// The host's VTEP on the underlay. A UDP socket bound to the VTEP address and the VXLAN port
/// receives (never connected: the kernel's own VXLAN sends from a different source port per flow);
/// a raw IPv4 socket sends the outer IPv4/UDP headers we build, so the UDP source port can carry
/// the inner flow's hash as RFC 7348 §5 asks, which one bound UDP socket cannot.
/// </summary>
public sealed class VtepSocket : IDisposable
{
    private const int PollMicroseconds = 100_000;

    private readonly Socket _receive;
    private readonly Socket _send;
    private readonly SocketAddress _from;

    private VtepSocket(Socket receive, Socket send, IPAddress address, int port)
    {
        _receive = receive;
        _send = send;
        Address = address;
        Port = port;
        _from = new SocketAddress(AddressFamily.InterNetwork);
    }

    public IPAddress Address { get; }

    public int Port { get; }

    /// <summary>Opens both sockets; call inside the host's network namespace.</summary>
    public static VtepSocket Open(IPAddress address, int port)
    {
        var receive = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            receive.ReceiveBufferSize = 4 * 1024 * 1024;
            receive.Bind(new IPEndPoint(address, port));
        }
        catch (SocketException ex)
        {
            receive.Dispose();
            throw new InvalidOperationException($"cannot bind the VTEP socket to {address}:{port}: {ex.Message}", ex);
        }

        // IPPROTO_RAW implies IP_HDRINCL: we supply the IPv4 header; the kernel routes and adds Ethernet.
        var send = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Raw)
        {
            SendBufferSize = 4 * 1024 * 1024,
        };
        return new VtepSocket(receive, send, address, port);
    }

    /// <summary>Receives VXLAN datagrams (UDP payloads) into <paramref name="batch"/>; 0 after a short poll with nothing.</summary>
    public int Receive(FrameBatch batch)
    {
        int count = 0;
        if (!_receive.Poll(PollMicroseconds, SelectMode.SelectRead))
        {
            batch.Count = 0;
            return 0;
        }

        while (count < batch.Capacity)
        {
            int length;
            try
            {
                length = _receive.ReceiveFrom(batch.FrameSpace(count), SocketFlags.None, _from);
            }
            catch (SocketException) when (count > 0)
            {
                break;
            }

            // sockaddr_in: family (2), port (2), address (4), network order.
            uint source = BinaryPrimitives.ReadUInt32BigEndian(_from.Buffer.Span.Slice(4, 4));
            batch.Set(count, length, source);
            count++;
            if (_receive.Available == 0)
            {
                break;
            }
        }

        batch.Count = count;
        return count;
    }

    /// <summary>Sends one outer IPv4 packet (header included) to <paramref name="destination"/>.</summary>
    public bool Send(ReadOnlySpan<byte> ipv4Packet, SocketAddress destination)
    {
        try
        {
            return _send.SendTo(ipv4Packet, SocketFlags.None, destination) == ipv4Packet.Length;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _receive.Dispose();
        _send.Dispose();
    }
}
