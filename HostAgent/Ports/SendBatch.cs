using System.Runtime.InteropServices;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Ports;

/// <summary>
/// Frames or datagrams queued for one socket and sent with one sendmmsg(2) per batch instead of one
/// system call each: their bytes are copied into a pinned arena (the pipeline reuses its buffers
/// at once), each message optionally behind a <see cref="VirtioNetHeader"/> (AF_PACKET ports) or
/// addressed to an IPv4 destination (the raw VTEP socket). One per receive thread and socket; not
/// thread-safe. Allocates nothing after construction.
/// </summary>
internal sealed unsafe class SendBatch : IDisposable
{
    private const int SockaddrInLength = 16;

    private readonly byte[] _arena;
    private readonly byte* _arenaBase;
    private readonly bool _vnetHeaders;
    private readonly bool _addressed;
    private readonly MMsgHdr* _messages;
    private readonly IoVec* _iovecs;
    private readonly byte* _headers;
    private readonly byte* _addresses;
    private int _used;

    /// <param name="capacity">Most messages per sendmmsg.</param>
    /// <param name="arenaBytes">Bytes of frames the batch holds before it must be flushed.</param>
    /// <param name="vnetHeaders">Each message starts with a 10-byte virtio_net_hdr (AF_PACKET with PACKET_VNET_HDR).</param>
    /// <param name="addressed">Each message carries an IPv4 destination (sockaddr_in).</param>
    public SendBatch(int capacity, int arenaBytes, bool vnetHeaders, bool addressed)
    {
        Capacity = capacity;
        _vnetHeaders = vnetHeaders;
        _addressed = addressed;
        _arena = GC.AllocateArray<byte>(arenaBytes, pinned: true);
        _arenaBase = (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_arena));
        _messages = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(capacity * sizeof(MMsgHdr)));
        _iovecs = (IoVec*)NativeMemory.AllocZeroed((nuint)(2 * capacity * sizeof(IoVec)));
        _headers = (byte*)NativeMemory.AllocZeroed((nuint)(capacity * VirtioNetHeader.Length));
        _addresses = (byte*)NativeMemory.AllocZeroed((nuint)(capacity * SockaddrInLength));
    }

    /// <summary>Most messages per flush.</summary>
    public int Capacity { get; }

    /// <summary>Messages queued.</summary>
    public int Count { get; private set; }

    /// <summary>Whether a message of <paramref name="length"/> bytes fits without a flush first.</summary>
    public bool HasRoomFor(int length) => Count < Capacity && _used + length <= _arena.Length;

    /// <summary>Whether a message of <paramref name="length"/> bytes could ever fit.</summary>
    public bool Fits(int length) => length <= _arena.Length;

    /// <summary>
    /// Queues a copy of <paramref name="data"/> behind <paramref name="offload"/> to
    /// <paramref name="destination"/> (an IPv4 address in host order, for addressed batches).
    /// The caller checked <see cref="HasRoomFor"/>.
    /// </summary>
    public void Add(ReadOnlySpan<byte> data, in VirtioNetHeader offload, uint destination = 0)
    {
        int i = Count;
        byte* copy = _arenaBase + _used;
        data.CopyTo(new Span<byte>(copy, data.Length));
        _used += data.Length;
        int iov = 0;
        IoVec* vectors = _iovecs + 2 * i;
        if (_vnetHeaders)
        {
            byte* header = _headers + i * VirtioNetHeader.Length;
            offload.Write(new Span<byte>(header, VirtioNetHeader.Length));
            vectors[iov++] = new IoVec { Base = (nint)header, Length = VirtioNetHeader.Length };
        }

        vectors[iov++] = new IoVec { Base = (nint)copy, Length = (nuint)data.Length };
        ref var message = ref _messages[i];
        message.Iov = (nint)vectors;
        message.IovLength = (nuint)iov;
        message.Flags = 0;
        if (_addressed)
        {
            // sockaddr_in: family AF_INET (2), port 0 (a raw socket ignores it), address in network order.
            byte* address = _addresses + i * SockaddrInLength;
            *(ushort*)address = 2;
            *(ushort*)(address + 2) = 0;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(new Span<byte>(address + 4, 4), destination);
            message.Name = (nint)address;
            message.NameLength = SockaddrInLength;
        }

        Count = i + 1;
    }

    /// <summary>
    /// Sends everything queued on the socket <paramref name="socket"/> holds, as few sendmmsg(2)
    /// calls as the kernel takes; a message the kernel refuses is skipped. Returns how many were
    /// refused; everything queued counts as refused when the socket was closed meanwhile.
    /// </summary>
    public int Flush(SafeHandle socket)
    {
        using var held = HeldSocket.Hold(socket);
        int refused = held.IsOpen ? SendRange(held.Fd, 0, Count) : Count;
        Clear();
        return refused;
    }

    /// <summary>
    /// Sends messages <paramref name="start"/> .. <paramref name="end"/> - 1 with as few sendmmsg(2)
    /// calls as the kernel takes, skipping one it refuses; returns how many were refused. The caller
    /// holds the socket and clears the batch when done (<see cref="Clear"/>).
    /// </summary>
    internal int SendRange(int fd, int start, int end)
    {
        int sent = start, refused = 0;
        while (sent < end)
        {
            int result = LinuxNative.SendMmsg(fd, _messages + sent, (uint)(end - sent), 0);
            if (result > 0)
            {
                sent += result;
                continue;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (result < 0 && errno == LinuxNative.EIntr)
            {
                continue;
            }

            // The first message of what is left failed (no route, no buffer space, too big): skip it.
            sent++;
            refused++;
        }

        return refused;
    }

    /// <summary>Message <paramref name="i"/>'s bytes as queued (for an addressed batch: the outer IPv4 packet).</summary>
    internal ReadOnlySpan<byte> Message(int i)
    {
        // The data is the last iovec of the message (after the vnet header, if any).
        ref var message = ref _messages[i];
        IoVec* data = (IoVec*)message.Iov + (int)message.IovLength - 1;
        return new ReadOnlySpan<byte>((void*)data->Base, (int)data->Length);
    }

    /// <summary>Message <paramref name="i"/>'s IPv4 destination, host order (addressed batches).</summary>
    internal uint Destination(int i) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(new ReadOnlySpan<byte>(_addresses + i * SockaddrInLength + 4, 4));

    /// <summary>Forgets what is queued without sending it.</summary>
    public void Clear()
    {
        Count = 0;
        _used = 0;
    }

    public void Dispose()
    {
        NativeMemory.Free(_messages);
        NativeMemory.Free(_iovecs);
        NativeMemory.Free(_headers);
        NativeMemory.Free(_addresses);
    }
}
