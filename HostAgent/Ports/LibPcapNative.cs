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
}
