using System.Runtime.InteropServices;

namespace Fabric.HostAgent.Ports;

/// <summary>The Linux calls and constants of AF_PACKET sockets (packet(7)) and batched sends.</summary>
internal static partial class LinuxNative
{
    public const int AfPacket = 17;
    public const int SockRaw = 3;

    /// <summary>ETH_P_ALL in network byte order (htons(0x0003)): every protocol.</summary>
    public const ushort EthPAllNetworkOrder = 0x0300;

    public const int SolPacket = 263;
    public const int PacketAddMembership = 1;
    public const int PacketMrPromisc = 1;
    public const int PacketVnetHdr = 15;
    public const int PacketIgnoreOutgoing = 23;

    /// <summary>PACKET_AUXDATA: a control message per frame with the VLAN tag the kernel took out of band.</summary>
    public const int PacketAuxData = 8;

    /// <summary>tpacket_auxdata.tp_status: the frame had an 802.1Q tag, now in tp_vlan_tci.</summary>
    public const uint TpStatusVlanValid = 1 << 4;

    /// <summary>tpacket_auxdata.tp_status: tp_vlan_tpid holds the tag's TPID.</summary>
    public const uint TpStatusVlanTpidValid = 1 << 6;

    public const int SoRcvTimeo = 20;
    public const int SoSndBufForce = 32;

    /// <summary>errno EAGAIN / EWOULDBLOCK.</summary>
    public const int EAgain = 11;

    /// <summary>errno EINTR.</summary>
    public const int EIntr = 4;

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    public static unsafe partial int Bind(int fd, void* address, uint length);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    public static unsafe partial nint SendMsg(int fd, MMsgHdr* message, int flags);

    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    public static unsafe partial int SendMmsg(int fd, MMsgHdr* messages, uint count, int flags);

    [LibraryImport("libc", EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint IfNameToIndex(string name);

    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(int fd, int how);
}

/// <summary>struct sockaddr_ll (packet(7)), 20 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SockAddrLinkLayer
{
    public ushort Family;
    public ushort Protocol;
    public int InterfaceIndex;
    public ushort HardwareType;
    public byte PacketType;
    public byte AddressLength;
    public ulong Address;
}

/// <summary>struct packet_mreq (packet(7)), 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PacketMembershipRequest
{
    public int InterfaceIndex;
    public ushort Type;
    public ushort AddressLength;
    public ulong Address;
}

/// <summary>struct timeval on LP64.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TimeValue
{
    public long Seconds;
    public long Microseconds;
}
