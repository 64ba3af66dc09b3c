using System.Runtime.InteropServices;
using Fabric.HostAgent.Wire;
using Microsoft.Win32.SafeHandles;

namespace Fabric.HostAgent.Ports;

/// <summary>
/// A local port on an AF_PACKET socket (packet(7)) with <c>PACKET_VNET_HDR</c>, the default backend:
/// every frame comes with, and goes out with, a <see cref="VirtioNetHeader"/>, so a VM or container
/// keeps its offloads (tx checksumming, TSO, GSO): its super-frames and partial checksums arrive as
/// such, whole (up to 64 KiB), and the pipeline finishes them only where they leave for a wire or a
/// port that needs finished frames. Inbound only (<c>PACKET_IGNORE_OUTGOING</c>): frames this port
/// injects are never received again. An 802.1Q tag the kernel took out of the frame (VLAN acceleration:
/// it reports it in <c>PACKET_AUXDATA</c>) is put back in front of the payload, as libpcap does, so a
/// trunk's frames reach the pipeline tagged as they were sent. Receives a batch per system call
/// (recvmmsg(2)); sends one frame (<see cref="Send"/>) or a batch (<see cref="Flush"/>, sendmmsg(2)).
/// </summary>
internal sealed unsafe class AfPacketPort : IFramePort
{
    private const int ReceiveWaitMilliseconds = 100;

    /// <summary>Room for one control message of struct tpacket_auxdata (CMSG_SPACE(20) = 40) and margin.</summary>
    private const int ControlLength = 64;

    private readonly PacketSocketHandle _socket;
    private FrameBatch? _prepared;
    private MMsgHdr* _messages;
    private IoVec* _iovecs;
    private byte* _headers;
    private byte* _controls;
    private int _lastReceived;

    private AfPacketPort(string name, PacketSocketHandle socket)
    {
        Name = name;
        _socket = socket;
    }

    public string Name { get; }

    /// <summary>Frames come with their offloads left undone, and may go out so.</summary>
    public bool CarriesOffloads => true;

    /// <summary>A GSO super-frame: up to 64 KiB of IP packet with its L2 header.</summary>
    public int MaxFrameLength => FrameBatch.GsoMaxFrameLength;

    /// <summary>
    /// Opens <paramref name="interfaceName"/>; call inside the port's network namespace. Throws
    /// <see cref="InvalidOperationException"/> naming the interface when it does not exist or the
    /// socket cannot be set up (the agent needs CAP_NET_RAW).
    /// </summary>
    public static AfPacketPort Open(string interfaceName)
    {
        uint index = LinuxNative.IfNameToIndex(interfaceName);
        if (index == 0)
        {
            throw new InvalidOperationException($"interface '{interfaceName}' does not exist in this network namespace.");
        }

        // Protocol 0: the socket takes no frames until bind() names the protocol with the interface.
        // Created with ETH_P_ALL it would be hooked into every interface at once, and the bind
        // would unhook it first, which waits for an RCU grace period (synchronize_net, packet(7)'s
        // af_packet.c): tens of ms per port, 1.3 s for an agent restoring 51 ports.
        int fd = LinuxNative.Socket(LinuxNative.AfPacket, LinuxNative.SockRaw, 0);
        if (fd < 0)
        {
            throw Failure(interfaceName, "socket(AF_PACKET)");
        }

        var socket = new PacketSocketHandle(fd);
        try
        {
            // The vnet header first: it changes what every later receive and send looks like.
            SetOption(fd, LinuxNative.SolPacket, LinuxNative.PacketVnetHdr, 1, interfaceName, "PACKET_VNET_HDR");
            SetOption(fd, LinuxNative.SolPacket, LinuxNative.PacketIgnoreOutgoing, 1, interfaceName, "PACKET_IGNORE_OUTGOING");
            // Not PACKET_QDISC_BYPASS: a GSO frame sent from a packet socket is marked DODGY, which a
            // veth cannot take whole, and the bypass path drops what needs software segmentation
            // (ENOBUFS); through the normal path the kernel's GSO cuts it (measured: 1.10 Gbit/s TCP
            // into a VM with super-frames joined, against 0.78 sending the segments one by one).
            SetOption(fd, LinuxNative.SolPacket, LinuxNative.PacketAuxData, 1, interfaceName, "PACKET_AUXDATA");

            // Room for bursts beyond net.core.rmem_max (CAP_NET_ADMIN); without it the default stays.
            int receiveBuffer = 16 * 1024 * 1024, sendBuffer = 4 * 1024 * 1024;
            _ = LinuxNative.SetSockOpt(fd, LinuxNative.SolSocket, LinuxNative.SoRcvBufForce, &receiveBuffer, sizeof(int));
            _ = LinuxNative.SetSockOpt(fd, LinuxNative.SolSocket, LinuxNative.SoSndBufForce, &sendBuffer, sizeof(int));

            // recvmmsg waits for the first frame at most this long, so the loop sees a stop.
            var timeout = new TimeValue { Seconds = 0, Microseconds = ReceiveWaitMilliseconds * 1000 };
            if (LinuxNative.SetSockOpt(fd, LinuxNative.SolSocket, LinuxNative.SoRcvTimeo, &timeout, (uint)sizeof(TimeValue)) != 0)
            {
                throw Failure(interfaceName, "SO_RCVTIMEO");
            }

            var address = new SockAddrLinkLayer { Family = LinuxNative.AfPacket, Protocol = LinuxNative.EthPAllNetworkOrder, InterfaceIndex = (int)index };
            if (LinuxNative.Bind(fd, &address, (uint)sizeof(SockAddrLinkLayer)) != 0)
            {
                throw Failure(interfaceName, "bind");
            }

            // Every frame the interface receives, whatever its destination MAC (a bridge port).
            var membership = new PacketMembershipRequest { InterfaceIndex = (int)index, Type = LinuxNative.PacketMrPromisc };
            if (LinuxNative.SetSockOpt(fd, LinuxNative.SolPacket, LinuxNative.PacketAddMembership, &membership, (uint)sizeof(PacketMembershipRequest)) != 0)
            {
                throw Failure(interfaceName, "PACKET_ADD_MEMBERSHIP");
            }

            return new AfPacketPort(interfaceName, socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Fills <paramref name="batch"/> (slots of at least <see cref="MaxFrameLength"/>) with what the
    /// interface received, each frame with its offloads; 0 after a short wait with nothing. A frame
    /// longer than a slot is marked <see cref="FrameBatch.Oversized"/>.
    /// </summary>
    public int Receive(FrameBatch batch)
    {
        if (!ReferenceEquals(_prepared, batch))
        {
            Prepare(batch);
        }

        for (int i = 0; i < _lastReceived; i++)
        {
            _messages[i].Flags = 0;
            _messages[i].ControlLength = ControlLength;
        }

        _lastReceived = 0;
        int received = LinuxNative.RecvMmsg(_socket, _messages, (uint)batch.Capacity);

        if (received <= 0)
        {
            batch.Count = 0;
            return 0;
        }

        for (int i = 0; i < received; i++)
        {
            int length = (int)_messages[i].Length - VirtioNetHeader.Length;
            if ((_messages[i].Flags & LinuxNative.MsgTrunc) != 0)
            {
                batch.Set(i, FrameBatch.Oversized);
            }
            else if (length < 0)
            {
                batch.Set(i, 0);
            }
            else
            {
                var offload = VirtioNetHeader.Read(new ReadOnlySpan<byte>(_headers + i * VirtioNetHeader.Length, VirtioNetHeader.Length));
                if (TryTakeVlanTag(i, out ushort tpid, out ushort tci) && length >= 2 * EthernetFrame.MacLength)
                {
                    // Frames land SpareLength bytes after the headroom: the MACs move back into that
                    // room and the tag follows them, so nothing after the MACs moves.
                    var slot = batch.Buffer.AsSpan(i * batch.SlotLength);
                    slot.Slice(FrameBatch.Headroom + FrameBatch.SpareLength, 2 * EthernetFrame.MacLength).CopyTo(slot.Slice(FrameBatch.Headroom));
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(slot.Slice(FrameBatch.Headroom + 12), tpid);
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(slot.Slice(FrameBatch.Headroom + 14), tci);
                    batch.Set(i, length + FrameBatch.SpareLength, offload.Shifted(FrameBatch.SpareLength), start: 0);
                }
                else
                {
                    batch.Set(i, length, offload, start: FrameBatch.SpareLength);
                }
            }
        }

        _lastReceived = received;
        batch.Count = received;
        return received;
    }

    /// <summary>The VLAN tag of received frame <paramref name="i"/>, if the kernel reported one in its PACKET_AUXDATA.</summary>
    private bool TryTakeVlanTag(int i, out ushort tpid, out ushort tci)
    {
        tpid = 0;
        tci = 0;

        // struct cmsghdr { size_t len; int level; int type; } then struct tpacket_auxdata
        // { u32 status, len, snaplen; u16 mac, net, vlan_tci, vlan_tpid; }.
        if (_messages[i].ControlLength < 16 + 20)
        {
            return false;
        }

        byte* control = _controls + i * ControlLength;
        if (*(int*)(control + 8) != LinuxNative.SolPacket || *(int*)(control + 12) != LinuxNative.PacketAuxData)
        {
            return false;
        }

        uint status = *(uint*)(control + 16);
        if ((status & LinuxNative.TpStatusVlanValid) == 0)
        {
            return false;
        }

        tci = *(ushort*)(control + 16 + 16);
        ushort reported = *(ushort*)(control + 16 + 18);
        tpid = (status & LinuxNative.TpStatusVlanTpidValid) != 0 && reported != 0 ? reported : EtherType.Vlan;
        return true;
    }

    /// <summary>Injects one frame behind <paramref name="offload"/> (the kernel finishes what it asks, or hands it on to a peer that can).</summary>
    public bool Send(ReadOnlySpan<byte> frame, in VirtioNetHeader offload)
    {
        byte* header = stackalloc byte[VirtioNetHeader.Length];
        offload.Write(new Span<byte>(header, VirtioNetHeader.Length));
        fixed (byte* data = frame)
        {
            IoVec* iov = stackalloc IoVec[2];
            iov[0] = new IoVec { Base = (nint)header, Length = VirtioNetHeader.Length };
            iov[1] = new IoVec { Base = (nint)data, Length = (nuint)frame.Length };
            var message = new MMsgHdr { Iov = (nint)iov, IovLength = 2 };
            using var socket = HeldSocket.Hold(_socket);
            return socket.IsOpen && LinuxNative.SendMsg(socket.Fd, &message, 0) == VirtioNetHeader.Length + frame.Length;
        }
    }

    /// <summary>Sends everything <paramref name="batch"/> holds (built with vnet headers); returns how many frames the kernel refused.</summary>
    public int Flush(SendBatch batch) => batch.Flush(_socket);

    /// <summary>
    /// Two iovecs per slot, once per batch: the 10-byte vnet header into a native array, the frame
    /// at the slot's headroom. The native memory lives as long as the receive thread; it is not freed
    /// in Dispose, which may run while that thread is still in recvmmsg.
    /// </summary>
    private void Prepare(FrameBatch batch)
    {
        FreeNative();
        int n = batch.Capacity;
        _messages = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(n * sizeof(MMsgHdr)));
        _iovecs = (IoVec*)NativeMemory.AllocZeroed((nuint)(2 * n * sizeof(IoVec)));
        _headers = (byte*)NativeMemory.AllocZeroed((nuint)(n * VirtioNetHeader.Length));
        _controls = (byte*)NativeMemory.AllocZeroed((nuint)(n * ControlLength));
        byte* buffer = (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(batch.Buffer));
        for (int i = 0; i < n; i++)
        {
            _iovecs[2 * i] = new IoVec { Base = (nint)(_headers + i * VirtioNetHeader.Length), Length = VirtioNetHeader.Length };
            _iovecs[2 * i + 1] = new IoVec { Base = (nint)(buffer + i * batch.SlotLength + FrameBatch.Headroom + FrameBatch.SpareLength), Length = (nuint)batch.MaxFrameLength };
            _messages[i].Iov = (nint)(_iovecs + 2 * i);
            _messages[i].IovLength = 2;
            _messages[i].Control = (nint)(_controls + i * ControlLength);
            _messages[i].ControlLength = ControlLength;
        }

        _prepared = batch;
        _lastReceived = 0;
    }

    private void FreeNative()
    {
        NativeMemory.Free(_messages);
        NativeMemory.Free(_iovecs);
        NativeMemory.Free(_headers);
        NativeMemory.Free(_controls);
        _controls = null;
        _messages = null;
        _iovecs = null;
        _headers = null;
        _prepared = null;
    }

    public void Dispose() => _socket.Dispose();

    private static void SetOption(int fd, int level, int name, int value, string interfaceName, string what)
    {
        if (LinuxNative.SetSockOpt(fd, level, name, &value, sizeof(int)) != 0)
        {
            throw Failure(interfaceName, what);
        }
    }

    private static InvalidOperationException Failure(string interfaceName, string call)
        => new($"AF_PACKET port on '{interfaceName}': {call} failed (errno {Marshal.GetLastPInvokeError()}); the agent needs CAP_NET_RAW and Linux 4.20 or later.");

    /// <summary>The socket's descriptor, closed once no call holds it.</summary>
    private sealed class PacketSocketHandle : SafeHandleMinusOneIsInvalid
    {
        public PacketSocketHandle(int fd)
            : base(ownsHandle: true) => SetHandle(fd);

        protected override bool ReleaseHandle() => LinuxNative.Close((int)handle) == 0;
    }
}
