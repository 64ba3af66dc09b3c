using System.Runtime.InteropServices;

namespace Fabric.HostAgent.Ports;

/// <summary>libpcap calls SharpPcap 6.3.1 does not expose.</summary>
internal static partial class LibPcapNative
{
    private const string Library = "libpcap.so.0.8";

    /// <summary>pcap_direction_t PCAP_D_IN: capture only frames received on the interface.</summary>
    public const int DirectionIn = 1;

    [LibraryImport(Library, EntryPoint = "pcap_setdirection")]
    public static partial int SetDirection(nint handle, int direction);

    [LibraryImport(Library, EntryPoint = "pcap_geterr")]
    public static partial nint GetError(nint handle);
}

/// <summary>The Linux calls for entering a network namespace.</summary>
internal static partial class LinuxNative
{
    public const int CloneNewNet = 0x40000000;

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    public static partial int SetNs(int fd, int nstype);

    /// <summary>recvmmsg(2): after the first datagram, take what is queued without waiting.</summary>
    public const int MsgWaitForOne = 0x10000;

    /// <summary>msg_flags: the datagram was longer than the buffer.</summary>
    public const int MsgTrunc = 0x20;

    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    public static unsafe partial int RecvMmsg(int fd, MMsgHdr* messages, uint count, int flags, nint timeout);

    /// <summary>
    /// recvmmsg(2) with <see cref="MsgWaitForOne"/> on the descriptor <paramref name="socket"/> holds,
    /// held for the call so that a Dispose on another thread cannot close it (and the kernel reuse the
    /// number) while the call waits. Returns what recvmmsg returned, or 0 when the socket was closed.
    /// </summary>
    public static unsafe int RecvMmsg(SafeHandle socket, MMsgHdr* messages, uint count)
    {
        using var held = HeldSocket.Hold(socket);
        return held.IsOpen ? RecvMmsg(held.Fd, messages, count, MsgWaitForOne, 0) : 0;
    }

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    public static unsafe partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    public const int SolSocket = 1;

    /// <summary>SO_RCVBUFFORCE: a receive buffer beyond net.core.rmem_max (CAP_NET_ADMIN).</summary>
    public const int SoRcvBufForce = 33;
}

/// <summary>struct iovec (x86_64 / aarch64 Linux).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoVec
{
    public nint Base;
    public nuint Length;
}

/// <summary>struct mmsghdr: struct msghdr followed by the received length.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MMsgHdr
{
    public nint Name;
    public uint NameLength;
    public nint Iov;
    public nuint IovLength;
    public nint Control;
    public nuint ControlLength;
    public int Flags;

    // struct msghdr ends padded to 56 bytes; msg_len follows it.
    private readonly int _padding;

    public uint Length;
}
