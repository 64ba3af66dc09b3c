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
internal sealed class VtepSocket : IDisposable
{
    private const int ReceiveWaitMilliseconds = 100;

    private readonly Socket _receive;
    private readonly Socket _send;

    private const int SockaddrInLength = 16;

    private readonly int _fd;
    private FrameBatch? _prepared;
    private unsafe MMsgHdr* _messages;
    private unsafe IoVec* _iovecs;
    private unsafe byte* _addresses;
    private unsafe byte* _controls;

    /// <summary>Room for one control message holding an int (CMSG_SPACE(4) = 24) and margin.</summary>
    private const int ControlLength = 32;

    /// <summary>SOL_UDP / IPPROTO_UDP.</summary>
    private const int SolUdp = 17;

    /// <summary>UDP_GRO (Linux 5.0): the kernel joins datagrams of one flow and reports their size in a control message.</summary>
    private const int UdpGro = 104;
    private int _lastReceived;

    private VtepSocket(Socket receive, Socket send, IPAddress address, int port)
    {
        _receive = receive;
        _send = send;
        Address = address;
        Port = port;
        _fd = (int)receive.SafeHandle.DangerousGetHandle();
    }

    public IPAddress Address { get; }

    /// <summary>
    /// Whether the kernel hands datagrams of one flow joined (UDP GRO): then a receive slot must hold
    /// <see cref="FrameBatch.GsoMaxFrameLength"/> bytes and <see cref="FrameBatch.SegmentSize"/> cuts them.
    /// </summary>
    public bool Coalesces { get; private init; }

    public int Port { get; }

    /// <summary>Opens both sockets; call inside the host's network namespace.</summary>
    public static VtepSocket Open(IPAddress address, int port)
    {
        var receive = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            receive.ReceiveBufferSize = 4 * 1024 * 1024;
            ForceReceiveBuffer(receive, 16 * 1024 * 1024);

            // recvmmsg waits for the first datagram at most this long, so the loop sees a stop.
            receive.ReceiveTimeout = ReceiveWaitMilliseconds;
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
        return new VtepSocket(receive, send, address, port) { Coalesces = EnableGro(receive) };
    }

    private static unsafe bool EnableGro(Socket socket)
    {
        int on = 1;
        return LinuxNative.SetSockOpt((int)socket.SafeHandle.DangerousGetHandle(), SolUdp, UdpGro, &on, sizeof(int)) == 0;
    }

    /// <summary>
    /// Receives VXLAN datagrams (UDP payloads) into <paramref name="batch"/>; 0 after a short wait
    /// with nothing. One recvmmsg(2) takes every datagram already queued, up to the batch size: one
    /// system call per batch instead of three per datagram (poll, recvfrom, FIONREAD).
    /// </summary>
    public unsafe int Receive(FrameBatch batch)
    {
        if (!ReferenceEquals(_prepared, batch))
        {
            Prepare(batch);
        }

        // The kernel wrote only the headers of what it delivered last time: reset just those.
        for (int i = 0; i < _lastReceived; i++)
        {
            _messages[i].NameLength = SockaddrInLength;
            _messages[i].Flags = 0;
            _messages[i].ControlLength = ControlLength;
        }

        _lastReceived = 0;

        // Held for the call (see RecvMmsg), so a Dispose on another thread cannot pull the descriptor away.
        int received = LinuxNative.RecvMmsg(_receive.SafeHandle, _messages, (uint)batch.Capacity);

        if (received <= 0)
        {
            // EAGAIN after the receive timeout, EINTR, or the socket closed under us at shutdown.
            batch.Count = 0;
            return 0;
        }

        for (int i = 0; i < received; i++)
        {
            // sockaddr_in: family (2), port (2), address (4), network order.
            uint source = BinaryPrimitives.ReadUInt32BigEndian(new ReadOnlySpan<byte>(_addresses + i * SockaddrInLength + 4, 4));

            // A datagram longer than a slot arrives cut: marked, and counted as TooLong by the data plane.
            int length = (_messages[i].Flags & LinuxNative.MsgTrunc) != 0 ? FrameBatch.Oversized : (int)_messages[i].Length;
            batch.Set(i, length, source);
            batch.SetSegmentSize(i, GroSegmentSize(i));
        }

        _lastReceived = received;
        batch.Count = received;
        return received;
    }

    /// <summary>The size of the datagrams UDP GRO joined in message <paramref name="i"/>, 0 when it holds one datagram.</summary>
    private unsafe int GroSegmentSize(int i)
    {
        // struct cmsghdr { size_t len; int level; int type; } then an int.
        if (_messages[i].ControlLength < 16 + sizeof(int))
        {
            return 0;
        }

        byte* control = _controls + i * ControlLength;
        return *(int*)(control + 8) == SolUdp && *(int*)(control + 12) == UdpGro ? *(int*)(control + 16) : 0;
    }

    /// <summary>
    /// Points one iovec per slot at the (pinned) batch buffer, once per batch. The few KiB of native
    /// headers live as long as the socket's receive thread; they are not freed in Dispose, which may
    /// run while that thread is still in recvmmsg.
    /// </summary>
    private unsafe void Prepare(FrameBatch batch)
    {
        FreeNative();
        int n = batch.Capacity;
        _messages = (MMsgHdr*)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)(n * sizeof(MMsgHdr)));
        _iovecs = (IoVec*)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)(n * sizeof(IoVec)));
        _addresses = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)(n * SockaddrInLength));
        _controls = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)(n * ControlLength));
        byte* buffer = (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(batch.Buffer));
        for (int i = 0; i < n; i++)
        {
            _iovecs[i].Base = (nint)(buffer + i * batch.SlotLength + FrameBatch.Headroom);
            _iovecs[i].Length = (nuint)batch.MaxFrameLength;
            _messages[i].Name = (nint)(_addresses + i * SockaddrInLength);
            _messages[i].NameLength = SockaddrInLength;
            _messages[i].Iov = (nint)(_iovecs + i);
            _messages[i].IovLength = 1;
            _messages[i].Control = (nint)(_controls + i * ControlLength);
            _messages[i].ControlLength = ControlLength;
        }

        _prepared = batch;
        _lastReceived = 0;
    }

    private unsafe void FreeNative()
    {
        System.Runtime.InteropServices.NativeMemory.Free(_messages);
        System.Runtime.InteropServices.NativeMemory.Free(_iovecs);
        System.Runtime.InteropServices.NativeMemory.Free(_addresses);
        System.Runtime.InteropServices.NativeMemory.Free(_controls);
        _controls = null;
        _messages = null;
        _iovecs = null;
        _addresses = null;
        _prepared = null;
    }

    /// <summary>
    /// SO_RCVBUFFORCE (root or CAP_NET_ADMIN, which the agent has): room for a burst beyond
    /// net.core.rmem_max, often 208 KiB. Without the capability SO_RCVBUF's capped size stays.
    /// </summary>
    private static unsafe void ForceReceiveBuffer(Socket socket, int bytes)
    {
        int fd = (int)socket.SafeHandle.DangerousGetHandle();
        _ = LinuxNative.SetSockOpt(fd, LinuxNative.SolSocket, LinuxNative.SoRcvBufForce, &bytes, sizeof(int));
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

    /// <summary>Sends every outer IPv4 packet <paramref name="batch"/> holds (addressed to its VTEP) on the raw socket; returns how many the kernel refused.</summary>
    public int Flush(SendBatch batch) => batch.Flush(_send.SafeHandle);

    public void Dispose()
    {
        _receive.Dispose();
        _send.Dispose();
    }
}
