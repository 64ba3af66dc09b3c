using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Ports;

/// <summary>
/// The host's VTEP on the underlay. A UDP socket bound to the VTEP address and the VXLAN port
/// receives (never connected: the kernel's own VXLAN sends from a different source port per flow);
/// a raw IPv4 socket sends the outer IPv4/UDP headers we build, so the UDP source port can carry
/// the inner flow's hash as RFC 7348 §5 asks, which one bound UDP socket cannot. Super-frames leave
/// through a pool of UDP sockets, one bound to each port of the VTEP's source port range, with UDP
/// GSO (<c>UDP_SEGMENT</c>, udp(7)): one sendmsg(2) hands the kernel a train of equal datagrams
/// that it cuts late (or a NIC with USO cuts), instead of one raw send per datagram.
/// </summary>
internal sealed class VtepSocket : IDisposable
{
    private const int ReceiveWaitMilliseconds = 100;

    private readonly Socket _receive;
    private readonly Socket _send;

    private const int SockaddrInLength = 16;

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

    /// <summary>UDP_SEGMENT (Linux 4.18): the size of each datagram a send is cut into (UDP GSO).</summary>
    private const int UdpSegment = 103;

    /// <summary>IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO: DF on every datagram, never fragment locally (ip(7)).</summary>
    private const int SolIp = 0;
    private const int IpMtuDiscover = 10;
    private const int IpPmtuDiscDo = 2;

    /// <summary>Most datagrams the kernel cuts one UDP GSO send into (UDP_MAX_SEGMENTS, 64 before Linux 6.9).</summary>
    public const int MaxSegmentsPerSend = 64;

    /// <summary>The most bytes of UDP payload one send may carry: 65535 - 20 (IPv4) - 8 (UDP).</summary>
    public const int MaxSegmentedPayload = 65507;

    private readonly Socket?[] _segmentSockets;

    private VtepSocket(Socket receive, Socket send, IPAddress address, int port, Socket?[] segmentSockets, SourcePortRange segmentPorts)
    {
        _receive = receive;
        _send = send;
        _segmentSockets = segmentSockets;
        SegmentPorts = segmentPorts;
        Address = address;
        Port = port;
    }

    public IPAddress Address { get; }

    /// <summary>
    /// Whether the kernel hands datagrams of one flow joined (UDP GRO): then a receive slot must hold
    /// <see cref="FrameBatch.GsoMaxFrameLength"/> bytes and <see cref="FrameBatch.SegmentSize"/> cuts them.
    /// </summary>
    public bool Coalesces { get; private init; }

    public int Port { get; }

    /// <summary>
    /// The source ports super-frames are sent from with UDP GSO, one socket each (bucket i = port
    /// First + i); <c>default</c> when the VTEP has no such pool.
    /// </summary>
    public SourcePortRange SegmentPorts { get; }

    /// <summary>How many ports of <see cref="SegmentPorts"/> have a socket (a port another process holds has none).</summary>
    public int SegmentSocketCount => _segmentSockets.Count(s => s is not null);

    /// <summary>
    /// Opens the sockets; call inside the host's network namespace. With <paramref name="segmentPorts"/>
    /// it binds a UDP socket to each of those ports at <paramref name="address"/> for UDP GSO sends
    /// (none when the kernel has no UDP_SEGMENT; a port already taken is left out, and its flows are
    /// sent a datagram at a time on the raw socket).
    /// </summary>
    /// <exception cref="InvalidOperationException">The receive socket cannot be bound to <paramref name="address"/>:<paramref name="port"/>.</exception>
    public static VtepSocket Open(IPAddress address, int port, SourcePortRange segmentPorts = default)
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
        var pool = segmentPorts.Count == 0 ? [] : OpenSegmentSockets(address, segmentPorts);
        return new VtepSocket(receive, send, address, port, pool, pool.Length == 0 ? default : segmentPorts) { Coalesces = EnableGro(receive) };
    }

    private static unsafe Socket?[] OpenSegmentSockets(IPAddress address, SourcePortRange ports)
    {
        var sockets = new Socket?[ports.Count];
        for (int i = 0; i < ports.Count; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            int fd = (int)socket.SafeHandle.DangerousGetHandle();
            int zero = 0, dontFragment = IpPmtuDiscDo;
            if (LinuxNative.SetSockOpt(fd, SolUdp, UdpSegment, &zero, sizeof(int)) != 0)
            {
                // No UDP GSO in this kernel: no pool at all.
                socket.Dispose();
                foreach (var opened in sockets)
                {
                    opened?.Dispose();
                }

                return [];
            }

            try
            {
                _ = LinuxNative.SetSockOpt(fd, SolIp, IpMtuDiscover, &dontFragment, sizeof(int));
                socket.ReceiveBufferSize = 1; // sends only; the kernel keeps its minimum
                socket.SendBufferSize = 1024 * 1024;
                socket.Bind(new IPEndPoint(address, ports.First + i));
                sockets[i] = socket;
            }
            catch (SocketException)
            {
                socket.Dispose();
            }
        }

        return sockets;
    }

    /// <summary>Whether flows of source port bucket <paramref name="bucket"/> (of <see cref="SegmentPorts"/>) can be sent with UDP GSO.</summary>
    public bool CanSendSegmented(int bucket) => (uint)bucket < (uint)_segmentSockets.Length && _segmentSockets[bucket] is not null;

    /// <summary>
    /// Sends <paramref name="payload"/>, consecutive UDP payloads (VXLAN datagrams) of
    /// <paramref name="segmentLength"/> bytes each but the last, which may be shorter, to
    /// <paramref name="destination"/> (IPv4, host order) at <see cref="Port"/>, from source port
    /// <c>SegmentPorts.First + bucket</c>, in one sendmsg(2) with UDP_SEGMENT: the kernel (or the
    /// NIC) cuts it into datagrams with their own IPv4 and UDP headers and checksums. At most
    /// <see cref="MaxSegmentsPerSend"/> datagrams and <see cref="MaxSegmentedPayload"/> bytes.
    /// False if the kernel refused it (no route, no buffer, too big for the path's MTU).
    /// </summary>
    public unsafe bool SendSegmented(uint destination, int bucket, ReadOnlySpan<byte> payload, int segmentLength)
    {
        var socket = _segmentSockets[bucket];
        if (socket is null)
        {
            return false;
        }

        fixed (byte* data = payload)
        {
            var vector = new IoVec { Base = (nint)data, Length = (nuint)payload.Length };
            return SendSegmented(socket, destination, &vector, 1, payload.Length, segmentLength);
        }
    }

    /// <summary>One sendmsg(2) of <paramref name="vectorCount"/> iovecs, <paramref name="total"/> bytes, with UDP_SEGMENT = <paramref name="segmentLength"/>.</summary>
    private unsafe bool SendSegmented(Socket socket, uint destination, IoVec* vectors, int vectorCount, int total, int segmentLength)
    {
        // sockaddr_in: family AF_INET, port and address in network order.
        byte* address = stackalloc byte[SockaddrInLength];
        new Span<byte>(address, SockaddrInLength).Clear();
        *(ushort*)address = 2;
        BinaryPrimitives.WriteUInt16BigEndian(new Span<byte>(address + 2, 2), (ushort)Port);
        BinaryPrimitives.WriteUInt32BigEndian(new Span<byte>(address + 4, 4), destination);

        // One control message: struct cmsghdr { size_t len; int level; int type; } then the u16 size.
        byte* control = stackalloc byte[ControlLength];
        new Span<byte>(control, ControlLength).Clear();
        *(ulong*)control = 16 + sizeof(ushort); // CMSG_LEN(2)
        *(int*)(control + 8) = SolUdp;
        *(int*)(control + 12) = UdpSegment;
        *(ushort*)(control + 16) = (ushort)segmentLength;

        var message = new MMsgHdr
        {
            Name = (nint)address,
            NameLength = SockaddrInLength,
            Iov = (nint)vectors,
            IovLength = (nuint)vectorCount,
            Control = (nint)control,
            ControlLength = 24, // CMSG_SPACE(2)
        };
        using var held = HeldSocket.Hold(socket.SafeHandle);
        if (!held.IsOpen)
        {
            return false;
        }

        nint sent;
        do
        {
            sent = LinuxNative.SendMsg(held.Fd, &message, 0);
        }
        while (sent < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == LinuxNative.EIntr);

        return sent == total;
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

    /// <summary>
    /// Sends every outer IPv4 packet <paramref name="batch"/> holds (addressed to its VTEP), in
    /// order; returns how many the kernel refused. A run of consecutive packets to one VTEP from
    /// one source port (one inner flow, or flows that share its port) with equal lengths, the last
    /// possibly shorter, leaves as one UDP GSO send of their UDP payloads gathered from the batch
    /// (<see cref="SendRunSegmented"/>): a burst of a flow's small frames, as a VM with its offloads
    /// off sends them, costs the kernel one route lookup and one trip through the stack and the
    /// underlay instead of one per frame. Everything else goes out on the raw socket with sendmmsg(2).
    /// </summary>
    public int Flush(SendBatch batch)
    {
        using var held = HeldSocket.Hold(_send.SafeHandle);
        int count = batch.Count;
        if (!held.IsOpen)
        {
            batch.Clear();
            return count;
        }

        int refused = 0, pending = 0, i = 0;
        while (i < count)
        {
            int end = RunEnd(batch, i, out int bucket);
            if (end - i < 2 || !CanSendSegmented(bucket))
            {
                i = end;
                continue;
            }

            // What was queued before the run leaves before it. A run the kernel refuses as one
            // send (it should not) is tried again a packet at a time on the raw socket.
            refused += batch.SendRange(held.Fd, pending, i);
            if (!SendRunSegmented(batch, i, end, bucket))
            {
                refused += batch.SendRange(held.Fd, i, end);
            }

            pending = i = end;
        }

        refused += batch.SendRange(held.Fd, pending, count);
        batch.Clear();
        return refused;
    }

    /// <summary>Where the UDP header starts in an outer packet: IPv4 without options (the agent writes none).</summary>
    private const int UdpOffset = 20;

    /// <summary>Outer IPv4 + UDP headers in front of a VXLAN datagram.</summary>
    private const int OuterHeaders = UdpOffset + 8;

    /// <summary>
    /// The end (exclusive) of the run of packets starting at <paramref name="start"/> that one UDP GSO
    /// send can carry: same destination, same UDP source port (its bucket is returned), every length
    /// equal to the first's but the last, which may be shorter; at most <see cref="MaxSegmentsPerSend"/>
    /// datagrams and <see cref="MaxSegmentedPayload"/> bytes of payload.
    /// </summary>
    private int RunEnd(SendBatch batch, int start, out int bucket)
    {
        var first = batch.Message(start);
        ushort sourcePort = BinaryPrimitives.ReadUInt16BigEndian(first.Slice(UdpOffset));
        bucket = sourcePort - SegmentPorts.First;
        uint destination = batch.Destination(start);
        int length = first.Length, payload = length - OuterHeaders, end = start + 1;
        while (end < batch.Count && end - start < MaxSegmentsPerSend && payload + length - OuterHeaders <= MaxSegmentedPayload)
        {
            var next = batch.Message(end);
            if (next.Length > length || batch.Destination(end) != destination || BinaryPrimitives.ReadUInt16BigEndian(next.Slice(UdpOffset)) != sourcePort)
            {
                break;
            }

            payload += next.Length - OuterHeaders;
            end++;
            if (next.Length < length)
            {
                break; // a shorter one ends the run
            }
        }

        return end;
    }

    /// <summary>Sends packets <paramref name="start"/> .. <paramref name="end"/> - 1 of <paramref name="batch"/> as one UDP GSO send of their UDP payloads, gathered with one iovec each.</summary>
    private unsafe bool SendRunSegmented(SendBatch batch, int start, int end, int bucket)
    {
        var socket = _segmentSockets[bucket]!;
        IoVec* vectors = stackalloc IoVec[MaxSegmentsPerSend];
        int total = 0;
        for (int i = start; i < end; i++)
        {
            var packet = batch.Message(i);
            fixed (byte* data = packet)
            {
                // The arena is pinned: the pointer stays valid after the fixed block.
                vectors[i - start] = new IoVec { Base = (nint)(data + OuterHeaders), Length = (nuint)(packet.Length - OuterHeaders) };
            }

            total += packet.Length - OuterHeaders;
        }

        return SendSegmented(socket, batch.Destination(start), vectors, end - start, total, batch.Message(start).Length - OuterHeaders);
    }

    public void Dispose()
    {
        _receive.Dispose();
        _send.Dispose();
        foreach (var socket in _segmentSockets)
        {
            socket?.Dispose();
        }
    }
}
